// Helpers shared by the normalization kernels (layernorm.cc, batchnorm.cc, normalization.cc).
#pragma once
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/reduce_simd.h"

namespace r1::cpu {

// Any float tensor as a float vector.
inline std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> v(t.numel());
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<float>(p[i]);
  });
  return v;
}

// t (unidirectionally broadcastable to `shape`) expanded to numel(shape) floats.
inline std::vector<float> expand_to(const Tensor& t, const Shape& shape, const char* what) {
  std::vector<float> src = to_floats(t);
  int64_t n = numel(shape);
  if (static_cast<int64_t>(src.size()) == n) return src;
  const Shape& ts = t.shape();
  R1_CHECK(ts.size() <= shape.size(), InputError)
      << what << " of shape " << shape_str(ts) << " does not broadcast to " << shape_str(shape);
  size_t off = shape.size() - ts.size();
  std::vector<int64_t> st(shape.size(), 0);
  int64_t stride = 1;
  for (size_t d = ts.size(); d-- > 0;) {
    R1_CHECK(ts[d] == shape[d + off] || ts[d] == 1, InputError)
        << what << " of shape " << shape_str(ts) << " does not broadcast to " << shape_str(shape);
    st[d + off] = ts[d] == 1 ? 0 : stride;
    stride *= ts[d];
  }
  std::vector<float> out(n);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d) o += idx[d] * st[d];
    out[i] = src[o];
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

inline bool use_avx512() {
  static const bool v = cpu_features().has_avx512_kernels();
  return v;
}

// Mean and variance of a row, accumulated in double (AVX-512 in norm_avx512.cc where available).
inline void mean_var(const float* x, int64_t n, double* mean, double* var) {
  if (use_avx512() && n > 0) {
    *mean = row_sum_avx512(x, n) / static_cast<double>(n);
    *var = row_sq_dev_avx512(x, n, *mean) / static_cast<double>(n);
  } else {
    simd::row_mean_var_fast(x, n, mean, var);
  }
}

}  // namespace r1::cpu
