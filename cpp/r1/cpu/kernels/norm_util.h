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
