// Activation math on 16 floats for the GEMM and conv epilogues (exp16 also serves the softmax and GELU
// row kernels of kernels/act_avx512.cc). Include only from *_avx512.cc files: every
// function is static (internal linkage), so no AVX-512 copy of it can replace another file's.
// The formulas are those of the scalar ew:: functions (kernels/elementwise_math.h, tested against
// float64 there); where a textbook form cancels (1 + erf(z) and 1 + tanh(u) for negative inputs)
// an equal form without the cancellation is used, so small outputs keep their relative accuracy.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {

static inline __mmask16 tail_mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

// exp(x): x = n ln2 + r, Cephes degree-6 polynomial, then scalef (p * 2^n), which rounds subnormal
// results and overflows to inf by itself. The clamps take the constant first so NaN comes through.
static inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// x * sigmoid(s * x) = x / (1 + exp(-s x)): Silu (s = 1) and the tanh-form GELU.
static inline __m512 x_sigmoid16(__m512 x, __m512 sx) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), sx));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

static inline __m512 sigmoid16(__m512 x) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// tanh: odd polynomial for |x| < 0.625 (Cephes tanhf), 1 - 2 / (exp(2|x|) + 1) beyond.
static inline __m512 tanh16(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(2.0f), _mm512_min_ps(ax, _mm512_set1_ps(9.5f))));
  const __m512 big =
      _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 s = _mm512_set1_ps(-5.70498872745e-3f);
  s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(2.06390887954e-2f));
  s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(-5.37397155531e-2f));
  s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(1.33314422036e-1f));
  s = _mm512_fmadd_ps(s, z, _mm512_set1_ps(-3.33332819422e-1f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(s, z), ax, ax);
  const __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), big, small);
  // copysign, and NaN in -> NaN out (ax is NaN: neither branch is, so take x itself)
  const __m512 signed_r = _mm512_castsi512_ps(
      _mm512_ternarylogic_epi32(_mm512_castps_si512(r), _mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff), 0xe4));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), signed_r, x);
}

// 0.5 x (1 + erf(x / sqrt 2)) with ew::verf's minimax erff: a polynomial in z^2 for |z| <= 0.921875,
// erf = 1 - exp(r(|z|)) beyond. There exp(r) is erfc(|z|), so negative x gives 0.5 x erfc(|z|)
// directly and positive x gives x - 0.5 x erfc(|z|).
static inline __m512 gelu_erf16(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 t = _mm512_min_ps(_mm512_abs_ps(z), _mm512_set1_ps(14.0f));  // exp(r(14)) underflows to 0
  const __m512 s = _mm512_mul_ps(z, z);
  const __m512 tt = _mm512_mul_ps(t, t);
  __m512 r = _mm512_fmadd_ps(_mm512_set1_ps(-1.72853470e-5f), t, _mm512_set1_ps(3.83197126e-4f));
  const __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(-3.88396438e-3f), t, _mm512_set1_ps(2.42546219e-2f));
  r = _mm512_fmadd_ps(r, tt, u);
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-1.06777877e-1f));
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-6.34846687e-1f));
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-1.28717512e-1f));
  r = _mm512_fmsub_ps(r, t, t);
  const __m512 half_x = _mm512_mul_ps(_mm512_set1_ps(0.5f), x);
  // 0.5 x erfc(|z|), with x clamped to the finite range so that inf * 0 cannot make a NaN
  const __m512 x_fin = _mm512_min_ps(_mm512_set1_ps(3.4e38f), _mm512_max_ps(_mm512_set1_ps(-3.4e38f), x));
  const __m512 tail = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x_fin), exp16(r));
  const __m512 big = _mm512_mask_sub_ps(tail, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), x, tail);
  __m512 q = _mm512_set1_ps(-5.96761703e-4f);
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(4.99119423e-3f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-2.67681349e-2f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(1.12819925e-1f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(-3.76125336e-1f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(1.28379166e-1f));
  const __m512 erf_small = _mm512_fmadd_ps(q, z, z);
  const __m512 small = _mm512_fmadd_ps(half_x, erf_small, half_x);
  // |z| <= 0.921875 (or NaN: the small branch passes NaN through) takes the polynomial
  const __mmask16 is_big = _mm512_cmp_ps_mask(_mm512_abs_ps(z), _mm512_set1_ps(0.921875f), _CMP_GT_OQ);
  return _mm512_mask_blend_ps(is_big, small, big);
}

// 0.5 x (1 + erf(x / sqrt 2)) with erf as one rational function on [-4, 4] (Eigen's fast erf):
// absolute error ~5e-7, so GELU's negative tail loses its relative accuracy. Half the work of
// gelu_erf16; used only where the product itself is bf16 (errors ~1e-3 swamp it).
static inline __m512 gelu_erf_fast16(__m512 x) {
  __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  z = _mm512_min_ps(_mm512_set1_ps(4.0f), _mm512_max_ps(_mm512_set1_ps(-4.0f), z));
  const __m512 z2 = _mm512_mul_ps(z, z);
  __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-1.60960333262415e-02f));
  __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
  q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.42647390514189e-02f));
  const __m512 erf = _mm512_div_ps(_mm512_mul_ps(z, p), q);
  const __m512 half_x = _mm512_mul_ps(_mm512_set1_ps(0.5f), x);
  return _mm512_fmadd_ps(half_x, erf, half_x);
}

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
static inline __m512 gelu_tanh16(__m512 x) {
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x2), x, x);
  const __m512 two_u = _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.7978845608028654f), inner);
  return x_sigmoid16(x, two_u);
}

// The epilogue activation A on 16 floats (pa, pb: its act_alpha and act_beta).
template <Act A>
static inline __m512 activate(__m512 x, __m512 pa, __m512 pb) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  switch (A) {
    case Act::None:
      return x;
    case Act::Relu:
      return _mm512_max_ps(zero, x);  // max returns its second operand (x) on NaN
    case Act::Gelu:
      return gelu_erf16(x);
    case Act::GeluFast:
      return gelu_erf_fast16(x);
    case Act::GeluTanh:
      return gelu_tanh16(x);
    case Act::Sigmoid:
      return sigmoid16(x);
    case Act::Silu:
      return x_sigmoid16(x, x);
    case Act::Tanh:
      return tanh16(x);
    case Act::HardSigmoid:
      return _mm512_min_ps(one, _mm512_max_ps(zero, _mm512_fmadd_ps(pa, x, pb)));
    case Act::HardSwish: {
      const __m512 h = _mm512_fmadd_ps(x, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
      return _mm512_mul_ps(x, _mm512_min_ps(one, _mm512_max_ps(zero, h)));
    }
    case Act::Clip:
      return _mm512_min_ps(pb, _mm512_max_ps(pa, x));
    case Act::LeakyRelu:
      return _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x, pa);
  }
  return x;
}

}  // namespace r1::cpu::gemm
