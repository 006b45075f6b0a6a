// AVX-512 loop of r1::QuantDequant (quant_dequant.h). In float: the integers of the grid (|q| <= 65535)
// are exact there, and rounding matches the portable loop (both round half to even).
#include <immintrin.h>

#include "r1/cpu/kernels/quant_dequant.h"

namespace r1::cpu {

void quant_dequant_avx512(const float* x, float* y, int64_t n, float scale, float zero, float qmin, float qmax) {
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zero);
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __m512 q =
        _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
    q = _mm512_min_ps(hi, _mm512_max_ps(lo, q));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_sub_ps(q, vz), vs));
  }
}

}  // namespace r1::cpu
