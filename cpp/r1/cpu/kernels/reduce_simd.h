// Row primitives of the CPU kernels that reduce rows (reduce.cc, softmax.h, the normalizations,
// skip_layernorm.cc) with an AVX2+FMA path chosen at run time (the build targets
// baseline x86-64, where GCC cannot vectorize exp or if-convert the clamps) and portable fallbacks.
//
//   float m = simd::row_max(x, n);  float s = simd::row_exp_sum(x, y, n, m);
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "r1/cpu/kernels/reduce_util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define R1_REDUCE_AVX2 1
#endif

namespace r1::cpu::simd {

#ifdef R1_REDUCE_AVX2
inline bool has_avx2() {
  static const bool v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return v;
}

#define R1_AVX2 __attribute__((target("avx2,fma")))

R1_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33f), hi = _mm256_set1_ps(88.3f);
  __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                       _mm256_cmp_ps(x, _mm256_set1_ps(88.72f), _CMP_GT_OQ));
  return y;
}

R1_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
R1_AVX2 inline double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

R1_AVX2 inline float row_max_avx2(const float* x, int64_t n) {
  __m256 a = _mm256_set1_ps(-std::numeric_limits<float>::infinity()), b = a;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    a = _mm256_max_ps(a, _mm256_loadu_ps(x + j));
    b = _mm256_max_ps(b, _mm256_loadu_ps(x + j + 8));
  }
  for (; j + 8 <= n; j += 8) a = _mm256_max_ps(a, _mm256_loadu_ps(x + j));
  a = _mm256_max_ps(a, b);
  float t[8];
  _mm256_storeu_ps(t, a);
  float m = t[0];
  for (int k = 1; k < 8; ++k) m = t[k] > m ? t[k] : m;
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

R1_AVX2 inline float row_min_avx2(const float* x, int64_t n) {
  __m256 a = _mm256_set1_ps(std::numeric_limits<float>::infinity()), b = a;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    a = _mm256_min_ps(a, _mm256_loadu_ps(x + j));
    b = _mm256_min_ps(b, _mm256_loadu_ps(x + j + 8));
  }
  for (; j + 8 <= n; j += 8) a = _mm256_min_ps(a, _mm256_loadu_ps(x + j));
  a = _mm256_min_ps(a, b);
  float t[8];
  _mm256_storeu_ps(t, a);
  float m = t[0];
  for (int k = 1; k < 8; ++k) m = t[k] < m ? t[k] : m;
  for (; j < n; ++j) m = x[j] < m ? x[j] : m;
  return m;
}

// y = exp(x - m) (y may be null), returns the sum.
R1_AVX2 inline float row_exp_sum_avx2(const float* x, float* y, int64_t n, float m) {
  __m256 vm = _mm256_set1_ps(m), s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm));
    if (y) {
      _mm256_storeu_ps(y + j, e0);
      _mm256_storeu_ps(y + j + 8, e1);
    }
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  float s = hsum8(_mm256_add_ps(s0, s1));
  for (; j < n; ++j) {
    float e = fast_exp(x[j] - m);
    if (y) y[j] = e;
    s += e;
  }
  return s;
}

R1_AVX2 inline void row_scale_avx2(float* y, int64_t n, float f) {
  __m256 vf = _mm256_set1_ps(f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), vf));
  for (; j < n; ++j) y[j] *= f;
}

// y = (x - a) - b
R1_AVX2 inline void row_sub2_avx2(const float* x, float* y, int64_t n, float a, float b) {
  __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), va), vb));
  for (; j < n; ++j) y[j] = (x[j] - a) - b;
}

// s[i] += exp(r[i] - m[i])
R1_AVX2 inline void exp_sub_acc_avx2(const float* r, const float* m, float* s, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(s + i, _mm256_add_ps(_mm256_loadu_ps(s + i),
                                          exp8(_mm256_sub_ps(_mm256_loadu_ps(r + i), _mm256_loadu_ps(m + i)))));
  for (; i < n; ++i) s[i] += fast_exp(r[i] - m[i]);
}
// y[i] = exp(r[i] - m[i]) * f[i]
R1_AVX2 inline void exp_sub_mul_avx2(const float* r, const float* m, const float* f, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(r + i), _mm256_loadu_ps(m + i))),
                                          _mm256_loadu_ps(f + i)));
  for (; i < n; ++i) y[i] = fast_exp(r[i] - m[i]) * f[i];
}

R1_AVX2 inline double row_sum_avx2(const float* x, int64_t n) {
  __m256d a = _mm256_setzero_pd(), b = a, c = a, d = a;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 v0 = _mm256_loadu_ps(x + j), v1 = _mm256_loadu_ps(x + j + 8);
    a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm256_castps256_ps128(v0)));
    b = _mm256_add_pd(b, _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)));
    c = _mm256_add_pd(c, _mm256_cvtps_pd(_mm256_castps256_ps128(v1)));
    d = _mm256_add_pd(d, _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)));
  }
  double s = hsum4d(_mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d)));
  for (; j < n; ++j) s += x[j];
  return s;
}

R1_AVX2 inline double row_sq_dev_avx2(const float* x, int64_t n, double m) {
  __m256d vm = _mm256_set1_pd(m), a = _mm256_setzero_pd(), b = a, c = a, d = a;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 v0 = _mm256_loadu_ps(x + j), v1 = _mm256_loadu_ps(x + j + 8);
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v0)), vm);
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)), vm);
    __m256d d2 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v1)), vm);
    __m256d d3 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1)), vm);
    a = _mm256_fmadd_pd(d0, d0, a);
    b = _mm256_fmadd_pd(d1, d1, b);
    c = _mm256_fmadd_pd(d2, d2, c);
    d = _mm256_fmadd_pd(d3, d3, d);
  }
  double s = hsum4d(_mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d)));
  for (; j < n; ++j) {
    double t = x[j] - m;
    s += t * t;
  }
  return s;
}

// y = (x - mean) * inv * scale + bias (scale, bias may be null)
R1_AVX2 inline void normalize_row_avx2(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                                       const float* bias) {
  __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), vi);
    if (scale) v = _mm256_mul_ps(v, _mm256_loadu_ps(scale + j));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
    _mm256_storeu_ps(y + j, v);
  }
  for (; j < n; ++j) {
    float v = (x[j] - mean) * inv;
    if (scale) v *= scale[j];
    if (bias) v += bias[j];
    y[j] = v;
  }
}
#undef R1_AVX2
#else
inline bool has_avx2() { return false; }
#endif

// Portable entry points.
inline float row_max(const float* x, int64_t n) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_max_avx2(x, n);
#endif
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

inline float row_min(const float* x, int64_t n) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_min_avx2(x, n);
#endif
  float m = std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) m = x[j] < m ? x[j] : m;
  return m;
}

inline float row_exp_sum(const float* x, float* y, int64_t n, float m) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_exp_sum_avx2(x, y, n, m);
#endif
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) {
      float e = fast_exp(x[j + k] - m);
      if (y) y[j + k] = e;
      lane[k] += e;
    }
  float s = 0;
  for (; j < n; ++j) {
    float e = fast_exp(x[j] - m);
    if (y) y[j] = e;
    s += e;
  }
  return s + ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

inline void row_scale(float* y, int64_t n, float f) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_scale_avx2(y, n, f);
#endif
  for (int64_t j = 0; j < n; ++j) y[j] *= f;
}

inline void row_sub2(const float* x, float* y, int64_t n, float a, float b) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_sub2_avx2(x, y, n, a, b);
#endif
  for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - a) - b;
}

inline void exp_sub_acc(const float* r, const float* m, float* s, int64_t n) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return exp_sub_acc_avx2(r, m, s, n);
#endif
  for (int64_t i = 0; i < n; ++i) s[i] += fast_exp(r[i] - m[i]);
}

inline void exp_sub_mul(const float* r, const float* m, const float* f, float* y, int64_t n) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return exp_sub_mul_avx2(r, m, f, y, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(r[i] - m[i]) * f[i];
}

inline double row_sum_d(const float* x, int64_t n) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return row_sum_avx2(x, n);
#endif
  return row_sum(x, n);
}

inline void row_mean_var_fast(const float* x, int64_t n, double* mean, double* var) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2() && n > 0) {
    double m = row_sum_avx2(x, n) / static_cast<double>(n);
    *mean = m;
    *var = row_sq_dev_avx2(x, n, m) / static_cast<double>(n);
    return;
  }
#endif
  row_mean_var(x, n, mean, var);
}

inline void normalize_row_f(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                            const float* bias) {
#ifdef R1_REDUCE_AVX2
  if (has_avx2()) return normalize_row_avx2(x, y, n, mean, inv, scale, bias);
#endif
  for (int64_t j = 0; j < n; ++j) {
    float v = (x[j] - mean) * inv;
    if (scale) v *= scale[j];
    if (bias) v += bias[j];
    y[j] = v;
  }
}

}  // namespace r1::cpu::simd
