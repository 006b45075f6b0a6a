// AVX-512 exp-based row kernels: GELU (erf and tanh forms), softmax rows, and the online-softmax
// step of the fused attention. Compiled with -mavx512*; called only when cpu_features() has the
// ISA. Raw pointers only, no std templates, and of project headers only the static AVX-512 math of
// r1/cpu/gemm/act_avx512.h (see CMakeLists.txt). Accuracy: exp within ~1 ulp, erf within a few ulp
// (tests compare with float64).
// GCC 12's own AVX-512 headers trip -Wuninitialized (the _mm512_undefined_* placeholders they use).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "r1/cpu/gemm/act_avx512.h"

namespace r1::cpu {
namespace {
using gemm::exp16;  // shared with the GEMM and conv epilogues
using gemm::tail_mask16;

// a / b for b in [1, 32]: rcp14 and one Newton step (relative error ~1e-9 before the final
// rounding) cost a third of a 512-bit division on current cores.
inline __m512 div_small(__m512 a, __m512 b) {
  __m512 r = _mm512_rcp14_ps(b);
  r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(b, r, _mm512_set1_ps(1.0f)), r);
  return _mm512_mul_ps(a, r);
}

inline __m512 clamp_finite(__m512 x) {  // +-inf -> +-FLT_MAX, NaN kept
  return _mm512_min_ps(_mm512_set1_ps(3.40282347e38f), _mm512_max_ps(_mm512_set1_ps(-3.40282347e38f), x));
}

// 0.5 x (1 + erf(x / sqrt 2)), written with erfc(|z|), z = x / sqrt 2, so that nothing cancels:
//   x <= 0: 0.5 x erfc(|z|)            x > 0: x - 0.5 x erfc(|z|)   (erfc(|z|) <= 1)
//   erfc(t) = exp(-t^2) (1 + p(q)) / (1 + 2t),  q = (t - 2) / (t + 2) in [-1, 0.67] for t in [0, 10.05]
// p: degree-11 Chebyshev fit (relative error 8e-8 in float), the form of N. Juffa's erfcf. z is
// carried as z_hi + z_lo and t^2 as s + s_lo so that exp(-t^2) does not amplify their rounding
// (t^2 reaches 100). Measured against float64: relative error < 4e-7 wherever |gelu| > 1e-38.
inline __m512 gelu_erf16(__m512 x) {
  const __m512 c_hi = _mm512_set1_ps(0.7071067690849304f), c_lo = _mm512_set1_ps(1.2101617485882343e-08f);
  const __m512 z = _mm512_mul_ps(x, c_hi);
  const __m512 z_lo = _mm512_fmadd_ps(x, c_lo, _mm512_fmsub_ps(x, c_hi, z));
  const __m512 az = _mm512_abs_ps(z);
  // t clamped to where erfc underflows (beyond it the result is forced to 0 below).
  const __m512 t = _mm512_min_ps(az, _mm512_set1_ps(10.0546875f));
  const __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 t_lo = _mm512_mask_sub_ps(z_lo, neg, _mm512_setzero_ps(), z_lo);
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  const __m512 q = div_small(_mm512_sub_ps(t, two), _mm512_add_ps(t, two));
  __m512 p = _mm512_set1_ps(8.108527981676161e-05f);
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(0.00017233700782526284f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.0004015479062218219f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.0014242675388231874f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(0.0012522718170657754f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(0.008710547350347042f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.00803056824952364f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.05421807989478111f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(0.16405099630355835f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.16603051126003265f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(-0.09276381880044937f));
  p = _mm512_fmadd_ps(p, q, _mm512_set1_ps(0.27697837352752686f));
  const __m512 r = div_small(_mm512_add_ps(one, p), _mm512_fmadd_ps(two, t, one));
  const __m512 sq = _mm512_mul_ps(t, t);
  const __m512 sq_lo = _mm512_fmadd_ps(_mm512_mul_ps(two, t), t_lo, _mm512_fmsub_ps(t, t, sq));
  const __m512 e = _mm512_mul_ps(exp16(_mm512_sub_ps(_mm512_setzero_ps(), sq)), _mm512_sub_ps(one, sq_lo));
  const __mmask16 live = _mm512_cmp_ps_mask(az, _mm512_set1_ps(10.0546875f), _CMP_LE_OQ);
  const __m512 erfc = _mm512_maskz_mul_ps(live, r, e);
  // x clamped to finite: +-inf times erfc = 0 must give 0, not NaN. NaN x stays NaN.
  const __m512 g = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), clamp_finite(x)), erfc);
  return _mm512_mask_sub_ps(g, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), x, g);
}

// 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)): same value, no cancellation for negative x.
inline __m512 gelu_tanh16(__m512 x) {
  const __m512 xs = _mm512_min_ps(_mm512_set1_ps(100.0f), _mm512_max_ps(_mm512_set1_ps(-100.0f), x));
  const __m512 x2 = _mm512_mul_ps(xs, xs);
  const __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), xs),
                                 _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x2, _mm512_set1_ps(1.0f)));
  const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), u));
  // -inf / (1 + inf) would be NaN: the lower clamp makes it -0.
  return _mm512_div_ps(_mm512_max_ps(_mm512_set1_ps(-3.40282347e38f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

}  // namespace

void gelu_f32_avx512(const float* x, float* y, int64_t n, bool tanh_form) {
  int64_t i = 0;
  if (tanh_form) {
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu_tanh16(_mm512_loadu_ps(x + i)));
    if (i < n)
      _mm512_mask_storeu_ps(y + i, tail_mask16(n - i), gelu_tanh16(_mm512_maskz_loadu_ps(tail_mask16(n - i), x + i)));
  } else {
    for (; i + 32 <= n; i += 32) {  // two independent chains: each is ~40 dependent operations deep
      const __m512 a = gelu_erf16(_mm512_loadu_ps(x + i)), b = gelu_erf16(_mm512_loadu_ps(x + i + 16));
      _mm512_storeu_ps(y + i, a);
      _mm512_storeu_ps(y + i + 16, b);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu_erf16(_mm512_loadu_ps(x + i)));
    if (i < n)
      _mm512_mask_storeu_ps(y + i, tail_mask16(n - i), gelu_erf16(_mm512_maskz_loadu_ps(tail_mask16(n - i), x + i)));
  }
}

float row_max_avx512(const float* x, int64_t n) {
  __m512 a = _mm512_set1_ps(-__builtin_inff()), b = a;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    a = _mm512_max_ps(a, _mm512_loadu_ps(x + j));
    b = _mm512_max_ps(b, _mm512_loadu_ps(x + j + 16));
  }
  for (; j < n; j += 16)
    a = _mm512_mask_max_ps(a, tail_mask16(n - j), a, _mm512_maskz_loadu_ps(tail_mask16(n - j), x + j));
  return _mm512_reduce_max_ps(_mm512_max_ps(a, b));
}

// y = exp(x - m) (y may be null); returns the sum.
float row_exp_sum_avx512(const float* x, float* y, int64_t n, float m) {
  const __m512 vm = _mm512_set1_ps(m);
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
    const __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm));
    if (y) {
      _mm512_storeu_ps(y + j, e0);
      _mm512_storeu_ps(y + j + 16, e1);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm)));
    if (y) _mm512_mask_storeu_ps(y + j, k, e);
    s0 = _mm512_add_ps(s0, e);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// y = x * f; y = (x - a) - b (log-softmax).
void row_scale_avx512(const float* x, float* y, int64_t n, float f) {
  const __m512 vf = _mm512_set1_ps(f);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + j), vf));
  }
}
void row_sub2_avx512(const float* x, float* y, int64_t n, float a, float b) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask16(n - j);
    _mm512_mask_storeu_ps(y + j, k, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), va), vb));
  }
}

namespace {
// 2^x for the softmax arguments (x <= 0 or NaN): no upper clamp and no ln 2 range reduction.
// Degree-6 fit of 2^f on [-1/2, 1/2] (relative error 1e-7), scalef applies 2^n.
inline __m512 exp2_nonpos16(__m512 x) {
  const __m512 xc = _mm512_max_ps(_mm512_set1_ps(-151.0f), x);  // NaN kept (second operand)
  const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(xc, n);
  __m512 p = _mm512_set1_ps(0.00015337577497120947f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.0013399859890341759f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.009618519805371761f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.05550329014658928f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24022646248340607f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931471824645996f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}
}  // namespace

// One online-softmax step of the fused attention over a block of raw scores S [rows x n] (ld lds):
// s = scale * S + mask; columns at or past the row's causal limit count as -inf. Writes
// P = exp(s - m_new) over S (0 in masked-off columns), updates the running max m and sum l, and
// sets corr = exp(m_old - m_new), the factor the output accumulated so far must be scaled by.
// A row with no finite score yet keeps m = -inf, l = 0, P = 0 and corr = 1, so it ends as 0/0
// (NaN) exactly when the unfused softmax of an all -inf row would.
// mask: element (r, j) at mask[r * mask_rs + j * mask_cs] (cs is 0 or 1), or null.
// Row r sees columns j < limit0 + r (causal); pass limit0 = n for no limit.
// exp(s - m) is computed as 2^((s - m) log2 e): s - m is exact when s is near m (Sterbenz), so the
// error stays that of one rounding of the argument, as in the unfused Softmax.
// p16: when set, P goes there as bf16 (row stride ld16) instead of over S, with column n zeroed
// when n is odd so the last bf16 pair is complete.
void attn_softmax_step_avx512(float* S, int64_t lds, int64_t rows, int64_t n, float scale, const float* mask,
                              int64_t mask_rs, int64_t mask_cs, int64_t limit0, float* m, float* l, float* corr,
                              uint16_t* p16, int64_t ld16) {
  const int64_t n_even = (n + 1) & ~int64_t{1};
  const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-__builtin_inff());
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  for (int64_t r = 0; r < rows; ++r) {
    float* s = S + r * lds;
    int64_t valid = limit0 + r;
    valid = valid < 0 ? 0 : (valid > n ? n : valid);
    const float* mr = mask ? mask + r * mask_rs : nullptr;
    // Pass 1: the scores' max. With a mask the masked scores are stored for pass 2; without one,
    // pass 2 recomputes scale * S (a multiply is cheaper than a store and a load).
    __m512 vmax = ninf;
    for (int64_t j = 0; j < valid; j += 16) {
      const __mmask16 k = tail_mask16(valid - j);
      __m512 v = _mm512_maskz_loadu_ps(k, s + j);
      if (mr) {
        const __m512 mv = mask_cs ? _mm512_maskz_loadu_ps(k, mr + j) : _mm512_set1_ps(mr[0]);
        v = _mm512_fmadd_ps(v, vs, mv);
        _mm512_mask_storeu_ps(s + j, k, v);
      } else {
        v = _mm512_mul_ps(v, vs);
      }
      vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
    }
    const float bmax = _mm512_reduce_max_ps(vmax);
    const float m_old = m[r];
    const float m_new = bmax > m_old ? bmax : m_old;
    if (m_new == -__builtin_inff()) {  // nothing finite yet (NaN scores fall through and propagate)
      if (p16) {
        for (int64_t j = 0; j < n_even; j += 16)
          _mm256_mask_storeu_epi16(p16 + r * ld16 + j, tail_mask16(n_even - j), _mm256_setzero_si256());
      } else {
        for (int64_t j = 0; j < n; j += 16) _mm512_mask_storeu_ps(s + j, tail_mask16(n - j), _mm512_setzero_ps());
      }
      corr[r] = 1.0f;
      continue;
    }
    const __m512 vm = _mm512_set1_ps(m_new);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_even; j += 16) {
      const __mmask16 kv = j < valid ? tail_mask16(valid - j) : 0;
      __m512 v = _mm512_maskz_loadu_ps(kv, s + j);
      if (!mr) v = _mm512_mul_ps(v, vs);
      const __m512 p = _mm512_maskz_mov_ps(kv, exp2_nonpos16(_mm512_mul_ps(_mm512_sub_ps(v, vm), log2e)));
      if (p16)
        _mm256_mask_storeu_epi16(p16 + r * ld16 + j, tail_mask16(n_even - j), (__m256i)_mm512_cvtneps_pbh(p));
      else
        _mm512_mask_storeu_ps(s + j, tail_mask16(n - j), p);
      sum = _mm512_add_ps(sum, p);
    }
    const float c = _mm512_cvtss_f32(exp16(_mm512_set1_ps(m_old - m_new)));  // m_old = -inf: 0
    corr[r] = c;
    l[r] = l[r] * c + _mm512_reduce_add_ps(sum);
    m[r] = m_new;
  }
}

}  // namespace r1::cpu
