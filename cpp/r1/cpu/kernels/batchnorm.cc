// CPU kernel of BatchNormalization (inference): y = x * a[c] + b[c] with a, b folded from the
// statistics in double.
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

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
