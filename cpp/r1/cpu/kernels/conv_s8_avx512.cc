// AVX512-VNNI tiles of the int8 convolution (conv_s8.h). Mirror of the int8 GEMM's kernel with the roles
// of the operands swapped: the pixels are the 48 vector lanes (uint8 quads, vpdpbusd's unsigned operand)
// and each output channel's four weights are broadcast (its signed operand). Raw pointers only
// (CMakeLists.txt says why).
#include <immintrin.h>

#include "r1/cpu/kernels/conv_s8.h"

namespace r1::cpu {
namespace {

inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n < 0 ? 0 : n)) - 1u);
}

// acc[MR][16 NV] (ld 48) = W rows x panel; plain stores only after the loop (gemm_s8_avx512.cc says why).
template <int MR, int NV>
void kern(int64_t kq, const uint8_t* panel, int64_t ps, const int8_t* w, int64_t ldw, int32_t* acc_out) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t k = 0; k < kq; ++k) {
    __m512i xv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_si512(panel + k * ps + 64 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t quad;
      __builtin_memcpy(&quad, w + r * ldw + 4 * k, sizeof(quad));
      const __m512i wb = _mm512_set1_epi32(quad);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], xv[v], wb);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc_out + r * 48 + 16 * v, acc[r][v]);
}

using Kern = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int64_t, int32_t*);
#define R1_KROW(MR) {kern<MR, 1>, kern<MR, 2>, kern<MR, 3>}
const Kern kKern[8][3] = {R1_KROW(1), R1_KROW(2), R1_KROW(3), R1_KROW(4),
                          R1_KROW(5), R1_KROW(6), R1_KROW(7), R1_KROW(8)};
#undef R1_KROW

}  // namespace

void conv_s8_tile_avx512(const ConvS8Tile& t) {
  const int nv = static_cast<int>((t.np + 15) / 16);
  alignas(64) int32_t acc[8 * 48];
  for (int64_t r0 = 0; r0 < t.rows; r0 += 8) {
    const int64_t mr = t.rows - r0 < 8 ? t.rows - r0 : 8;
    kKern[mr - 1][nv - 1](t.kq, t.panel, t.panel_stride, t.w + r0 * t.ldw, t.ldw, acc);
    for (int64_t r = 0; r < mr; ++r) {
      const __m512i corr = _mm512_set1_epi32(t.a_zero * t.wsum[r0 + r]);
      const __m512 sc = _mm512_set1_ps(t.a_scale * t.wscale[r0 + r]);
      float* y = t.y + (r0 + r) * t.ldy;
      for (int64_t j = 0; j < t.np; j += 16) {
        const __m512i x = _mm512_sub_epi32(_mm512_load_si512(acc + r * 48 + j), corr);
        _mm512_mask_storeu_ps(y + j, mask16(t.np - j), _mm512_mul_ps(_mm512_cvtepi32_ps(x), sc));
      }
    }
  }
}

void quantize_x4_avx512(const float* x, int64_t C, int64_t HW, float scale, int32_t zero, uint8_t* x4) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512i vz = _mm512_set1_epi32(zero), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
  // Byte r of each 32-bit lane comes from channel 4 c4 + r: quantize 16 pixels of each of the four
  // channels, then interleave the four byte vectors.
  for (int64_t c4 = 0; c4 < (C + 3) / 4; ++c4) {
    uint8_t* d = x4 + c4 * HW * 4;
    for (int64_t p = 0; p < HW; p += 16) {
      const __mmask16 m = mask16(HW - p);
      __m512i word = _mm512_setzero_si512();
      for (int r = 0; r < 4; ++r) {
        const int64_t c = 4 * c4 + r;
        if (c >= C) break;
        const __m512 v = _mm512_maskz_loadu_ps(m, x + c * HW + p);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_div_ps(v, vs)), vz);
        q = _mm512_min_epi32(_mm512_max_epi32(q, v0), v255);
        word = _mm512_or_si512(word, _mm512_slli_epi32(q, 8 * r));
      }
      _mm512_mask_storeu_epi32(d + 4 * p, m, word);
    }
  }
}

}  // namespace r1::cpu
