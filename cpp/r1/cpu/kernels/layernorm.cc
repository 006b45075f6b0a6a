// CPU kernel of LayerNormalization (AVX-512 rows: norm_avx512.cc).
// Statistics are computed in double from float rows (two passes); rows are parallel.
#include <cmath>
#include <type_traits>
#include <vector>

#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// y = (x - mean) * inv * scale + bias over one row (scale/bias may be null = 1/0).
template <class T>
inline void normalize_row(const float* x, T* y, int64_t n, float mean, float inv, const float* scale,
                          const float* bias) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512())
      normalize_row_avx512(x, y, n, mean, inv, scale, bias);
    else
      simd::normalize_row_f(x, y, n, mean, inv, scale, bias);
  } else {
    for (int64_t j = 0; j < n; ++j) {
      float v = (x[j] - mean) * inv;
      if (scale) v *= scale[j];
      if (bias) v += bias[j];
      y[j] = convert<T>(v);
    }
  }
}

void layernorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int rank = x.rank();
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const Shape& s = x.shape();
  Shape ns(s.begin() + axis, s.end());
  int64_t rows = 1, n = numel(ns);
  for (int i = 0; i < axis; ++i) rows *= s[i];
  Tensor& y = ctx.output(0);
  std::vector<float> scale = expand_to(ctx.input(1), ns, "LayerNormalization scale");
  std::vector<float> bias;
  if (ctx.has_input(2)) bias = expand_to(ctx.input(2), ns, "LayerNormalization bias");
  float* pm = ctx.has_output(1) ? ctx.output(1).data<float>() : nullptr;
  float* pi = ctx.has_output(2) ? ctx.output(2).data<float>() : nullptr;
  if (y.numel() == 0 && n == 0) {
    for (int64_t r = 0; r < rows; ++r) {
      if (pm) pm[r] = 0;
      if (pi) pi[r] = 1.0f / std::sqrt(eps);
    }
    return;
  }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const float* sc = scale.data();
    const float* bi = bias.empty() ? nullptr : bias.data();
    ctx.pool().parallel_for(0, rows, grain_for(n * 4), [&](int64_t b, int64_t e) {
      std::vector<float> tmp;
      for (int64_t r = b; r < e; ++r) {
        const float* xr = row_as_float(px + r * n, n, tmp);
        double mean, var;
        mean_var(xr, n, &mean, &var);
        float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        normalize_row<T>(xr, py + r * n, n, static_cast<float>(mean), inv, sc, bi);
        if (pm) pm[r] = static_cast<float>(mean);
        if (pi) pi[r] = inv;
      }
    });
  });
}

}  // namespace

void register_layernorm_kernels(KernelTable& t) { t.add("LayerNormalization", layernorm_kernel); }
}  // namespace r1::cpu
