// CPU kernel of BatchNormalization: y = x * a[c] + b[c] with a, b folded from the statistics in
// double. In training mode (opset 14+) the statistics are the batch's (population variance over N and
// the spatial dims) and outputs 1, 2 are the running mean / variance moved toward them by momentum.
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

void store_scalar(Tensor& t, int64_t i, float v) {
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    t.data<T>()[i] = static_cast<T>(v);
  });
}

void batchnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const Shape& s = x.shape();
  int64_t N = s[0], C = s[1], S = 1;
  for (int i = 2; i < x.rank(); ++i) S *= s[i];
  std::vector<float> sc = to_floats(ctx.input(1)), bi = to_floats(ctx.input(2)), mu = to_floats(ctx.input(3)),
                     va = to_floats(ctx.input(4));
  for (int i = 1; i < 5; ++i)
    R1_CHECK(ctx.input(i).numel() == C, InputError)
        << "BatchNormalization parameter " << i << " has " << ctx.input(i).numel() << " elements, expected " << C;
  if (ctx.opset() >= 14 && ctx.attrs().get_int("training_mode", 0) != 0) {
    float momentum = ctx.attrs().get_float("momentum", 0.9f);
    std::vector<float> xf = to_floats(x);
    for (int64_t k = 0; k < C; ++k) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < S; ++j) sum += xf[(n * C + k) * S + j];
      double m = N * S ? sum / static_cast<double>(N * S) : 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < S; ++j) sq += (xf[(n * C + k) * S + j] - m) * (xf[(n * C + k) * S + j] - m);
      double v = N * S ? sq / static_cast<double>(N * S) : 0.0;
      float run_m = static_cast<float>(mu[k] * momentum + m * (1 - momentum));
      float run_v = static_cast<float>(va[k] * momentum + v * (1 - momentum));
      mu[k] = static_cast<float>(m);
      va[k] = static_cast<float>(v);
      if (ctx.has_output(1)) store_scalar(ctx.output(1), k, run_m);
      if (ctx.has_output(2)) store_scalar(ctx.output(2), k, run_v);
    }
  }
  std::vector<float> a(C), c(C);
  for (int64_t k = 0; k < C; ++k) {
    double inv = 1.0 / std::sqrt(static_cast<double>(va[k]) + eps);
    a[k] = static_cast<float>(sc[k] * inv);
    c[k] = static_cast<float>(bi[k] - mu[k] * sc[k] * inv);
  }
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, N * C, grain_for(S), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float ak = a[r % C], ck = c[r % C];
        const T* xr = px + r * S;
        T* yr = py + r * S;
        for (int64_t j = 0; j < S; ++j) yr[j] = convert<T>(static_cast<float>(xr[j]) * ak + ck);
      }
    });
  });
}

}  // namespace

void register_batchnorm_kernels(KernelTable& t) { t.add("BatchNormalization", batchnorm_kernel); }
}  // namespace r1::cpu
