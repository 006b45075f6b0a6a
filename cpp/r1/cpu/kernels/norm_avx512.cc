// AVX-512 rows of the layer normalizations (LayerNormalization, r1::SkipLayerNorm): the residual
// add fused with the sum, the centred sum of squares, and the affine normalisation. Statistics
// accumulate in double (8 lanes x 2 chains) like the portable path, so a row with a large mean
// keeps its precision. Compiled with -mavx512*; raw pointers only (see CMakeLists.txt).
// GCC 12's own AVX-512 headers trip -Wuninitialized (the _mm512_undefined_* placeholders they use).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "r1/cpu/gemm/act_avx512.h"

namespace r1::cpu {
namespace {
using gemm::tail_mask16;

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

}  // namespace

// Sum of a row in double.
double row_sum_avx512(const float* x, int64_t n) {
  __m512d a = _mm512_setzero_pd(), b = a;
  for (int64_t j = 0; j < n; j += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask16(n - j), x + j);
    a = _mm512_add_pd(a, lo_pd(v));
    b = _mm512_add_pd(b, hi_pd(v));
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(a, b));
}

// out = x + skip (+ bias); returns the sum of out in double. skip/bias may be null.
double add_row_sum_avx512(const float* x, const float* skip, const float* bias, float* out, int64_t n) {
  __m512d a = _mm512_setzero_pd(), b = a;
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    if (skip) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, skip + j));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + j));
    _mm512_mask_storeu_ps(out + j, k, v);
    a = _mm512_add_pd(a, lo_pd(v));
    b = _mm512_add_pd(b, hi_pd(v));
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(a, b));
}

// Sum of (x - mean)^2 in double.
double row_sq_dev_avx512(const float* x, int64_t n, double mean) {
  const __m512d vm = _mm512_set1_pd(mean);
  __m512d a = _mm512_setzero_pd(), b = a;
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    // Masked-off lanes load 0: subtract the mean only where a value is, so they add nothing.
    const __m512d d0 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k), lo_pd(v), vm);
    const __m512d d1 = _mm512_maskz_sub_pd(static_cast<__mmask8>(k >> 8), hi_pd(v), vm);
    a = _mm512_fmadd_pd(d0, d0, a);
    b = _mm512_fmadd_pd(d1, d1, b);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(a, b));
}

// y = (x - mean) * inv * scale + bias (scale, bias may be null).
void normalize_row_avx512(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                          const float* bias) {
  const __m512 vm = _mm512_set1_ps(mean), vi = _mm512_set1_ps(inv);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vi);
    if (scale) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, scale + j));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + j));
    _mm512_mask_storeu_ps(y + j, k, v);
  }
}

}  // namespace r1::cpu
