// AVX512-VNNI kernel of the int4 group-wise GEMM (gemm_s4.h): nibbles unpacked to bytes in registers (a mask,
// and a shift for the high ones) and multiplied with uint8 activations by vpdpbusd, one int32 sum per group,
// then scaled into float accumulators. Compiled with -mavx512*; called only when the CPU has AVX512-VNNI.
// Raw pointers only, no std templates (CMakeLists.txt says why).
//
// Why this shape: a decode step (M = 1) reads each weight once, so bytes are the cost: 4 bits a weight
// against int8's 8. The unpacking (two ands and a shift per 64 weights) and the per-group scaling (every 128
// weights) stay well under the memory's pace; the group's int32 sum is exact (|sum| < 128 * 255 * 15).
#include <immintrin.h>

#include <cstdint>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "r1/cpu/gemm/act_avx512.h"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kGroup = 128;           // pack.h kS4Group
constexpr int64_t kBlockBytes = 4 * kNR;  // 8 K rows x 48 columns
constexpr int64_t kSMR = 6;               // rows per tile: 18 accumulators + 3 weights + broadcast + mask

// acc[MR, 16 NV] (int32, ld 48) = A[MR, 128] (u8, one group) x the group's 16 blocks of nibbles (+8).
template <int MR, int NV>
void kern_s4(const uint8_t* a, int64_t lda, const uint8_t* blocks, int32_t* acc_out) {
  const __m512i low = _mm512_set1_epi8(0x0f);
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t p = 0; p < kGroup / 8; ++p) {
    const uint8_t* blk = blocks + p * kBlockBytes;
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {  // K rows 8p..8p+3 in the low nibbles, 8p+4..8p+7 in the high ones
      __m512i bv[NV];
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) {
        const __m512i x = _mm512_loadu_si512(blk + 64 * v);
        bv[v] = _mm512_and_si512(half ? _mm512_srli_epi16(x, 4) : x, low);
      }
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        int32_t quad;
        __builtin_memcpy(&quad, a + r * lda + 8 * p + 4 * half, sizeof(quad));
        const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc_out + r * kNR + 16 * v, acc[r][v]);
}

using KernS4 = void (*)(const uint8_t*, int64_t, const uint8_t*, int32_t*);
#define R1_KROW(MR) {kern_s4<MR, 1>, kern_s4<MR, 2>, kern_s4<MR, 3>}
const KernS4 kS4[kSMR][3] = {R1_KROW(1), R1_KROW(2), R1_KROW(3), R1_KROW(4), R1_KROW(5), R1_KROW(6)};
#undef R1_KROW

}  // namespace

void gemm_block_s4_avx512(const TileArgsS4& t) {
  const int64_t panels = (t.cols + kNR - 1) / kNR;
  const Epilogue* ep = t.ep;
  const bool epilogue = ep && (ep->alpha != 1.0f || ep->bias || ep->residual || ep->act != Act::None);
  const int64_t group_bytes = (kGroup / 8) * kBlockBytes;
  for (int64_t q = 0; q < panels; ++q) {
    const int64_t nr = t.cols - q * kNR < kNR ? t.cols - q * kNR : kNR;
    const int nv = static_cast<int>((nr + 15) / 16);
    const int64_t j0 = q * kNR;
    for (int64_t i0 = 0; i0 < t.rows; i0 += kSMR) {
      const int64_t mr = t.rows - i0 < kSMR ? t.rows - i0 : kSMR;
      alignas(64) int32_t acc[kSMR * kNR];
      alignas(64) float out[kSMR * kNR];
      for (int64_t i = 0; i < mr * kNR; i += 16) _mm512_store_ps(out + i, _mm512_setzero_ps());
      for (int64_t g = 0; g < t.groups; ++g) {
        kS4[mr - 1][nv - 1](t.a + i0 * t.lda + g * kGroup, t.lda, t.b + q * t.panel_stride + g * group_bytes, acc);
        for (int v = 0; v < nv; ++v) {
          const __m512 bs = _mm512_loadu_ps(t.b_scale + g * t.npad + j0 + 16 * v);
          const __m512i bsum = _mm512_loadu_si512(t.b_sum + g * t.npad + j0 + 16 * v);
          for (int64_t r = 0; r < mr; ++r) {
            const int64_t rg = (i0 + r) * t.groups + g;
            const __m512i off = _mm512_add_epi32(_mm512_set1_epi32(8 * t.a_gsum[rg]),
                                                 _mm512_mullo_epi32(_mm512_set1_epi32(t.a_zero[rg]), bsum));
            const __m512i x = _mm512_sub_epi32(_mm512_load_si512(acc + r * kNR + 16 * v), off);
            const __m512 sc = _mm512_mul_ps(bs, _mm512_set1_ps(t.a_scale[rg]));
            float* o = out + r * kNR + 16 * v;
            _mm512_store_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(x), sc, _mm512_load_ps(o)));
          }
        }
      }
      for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; j += 16)
          _mm512_mask_storeu_ps(t.c + (i0 + r) * t.ldc + j0 + j, tail_mask16(nr - j),
                                _mm512_load_ps(out + r * kNR + j));
      if (epilogue) epilogue_tile_avx512(t.c + i0 * t.ldc + j0, t.ldc, mr, nr, t.row0 + i0, t.col0 + j0, *ep);
    }
  }
}

}  // namespace r1::cpu::gemm
