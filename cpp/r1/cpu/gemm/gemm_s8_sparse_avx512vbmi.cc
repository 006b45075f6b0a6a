// The 2:4 sparse int8 GEMM kernel: uint8 A x the compressed int8 B of pack.h's S8S24 layout, skipping the
// zeros. Compiled with -mavx512vbmi on top of AVX512-VNNI; called only when the CPU has both
// (gemm_s8.cc decides). Raw pointers only, no std templates (CMakeLists.txt says why).
//
// Why this shape: each K block of 8 holds, per column, four nonzeros (two per group of four) and their
// positions. One vpdpbusd multiplies them by the four A bytes they meet, which differ per column: the
// 8 A bytes of a row are broadcast and one vpshufb per (row, 16 columns) picks each column's four, with
// controls expanded once per block from the 2-bit positions (vpmultishiftqb). Against the dense kernel
// that is half the vpdpbusd and half the B bytes, for one shuffle per dot product; the shuffles and the
// dot products run on different ports (Zen 4, Ice Lake and later), so the block costs less than two
// dense quads wherever the dot products were the bottleneck, and 5/8 of the bytes where B's streaming was.
#include <immintrin.h>

#include <cstdint>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {
namespace {

// Rows per tile: 21 accumulators leave room for the controls; 8 rows (three accumulators spill) only where
// exactly 8 remain, so that M = 8 reads B once, not twice.
constexpr int64_t kSMR = 7;
constexpr int64_t kBlock = 5 * kNR;    // bytes of one block (8 K rows) of a panel
constexpr int64_t kIndexAt = 4 * kNR;  // where the block's 48 index bytes start

// vpshufb controls of 16 columns from their index bytes: byte v of column j's control = the position of its
// value v within the block's 8 A bytes, (idx >> 2v) & 3, plus 4 for the second group (v >= 2).
inline __m512i controls(const int8_t* idx16) {
  // For each qword (two columns, their index bytes at bits 0 and 32): the 8-bit fields at bits
  // 0, 2, 4, 6 and 32, 34, 36, 38.
  const __m512i fields = _mm512_set1_epi64(0x2624222006040200LL);
  const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx16)));
  const __m512i shifted = _mm512_multishift_epi64_epi8(fields, x);
  // (shifted & 0x03) | (0, 0, 4, 4) per column: 0xEA is (A & B) | C.
  return _mm512_ternarylogic_epi32(shifted, _mm512_set1_epi32(0x03030303), _mm512_set1_epi32(0x04040000), 0xEA);
}

// acc[MR, 16 NV] (int32, ld 48) = A[MR, 8 blocks] (u8) x the panel's blocks. Plain stores after the loop,
// as the dense kernel (gemm_s8_avx512.cc says why).
template <int MR, int NV>
void kern_s24(int64_t blocks, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* acc_out) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t k = 0; k < blocks; ++k) {
    const int8_t* blk = b + k * kBlock;
    __m512i bv[NV], ctl[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      bv[v] = _mm512_loadu_si512(blk + 64 * v);
      ctl[v] = controls(blk + kIndexAt + 16 * v);
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      long long eight;
      __builtin_memcpy(&eight, a + r * lda + 8 * k, sizeof(eight));
      const __m512i av = _mm512_set1_epi64(eight);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], _mm512_shuffle_epi8(av, ctl[v]), bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc_out + r * kNR + 16 * v, acc[r][v]);
}

using KernS24 = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int32_t*);
#define R1_KROW(MR) {kern_s24<MR, 1>, kern_s24<MR, 2>, kern_s24<MR, 3>}
const KernS24 kS24[kSMR + 1][3] = {R1_KROW(1), R1_KROW(2), R1_KROW(3), R1_KROW(4),
                                   R1_KROW(5), R1_KROW(6), R1_KROW(7), R1_KROW(8)};
#undef R1_KROW

// Byte b of each dword of x copied to the dword's four bytes.
inline __m512i spread_byte(__m512i x, int b) {
  // vpshufb works within 128-bit lanes: dword d of a lane starts at byte 4d.
  const int32_t d0 = b * 0x01010101, d1 = d0 + 0x04040404, d2 = d0 + 0x08080808, d3 = d0 + 0x0c0c0c0c;
  return _mm512_shuffle_epi8(x, _mm512_set4_epi32(d3, d2, d1, d0));
}

}  // namespace

void expand_s8_2to4_panel_avx512vbmi(const int8_t* sparse, int64_t blocks, int8_t* dense) {
  const __m512i slot = _mm512_set1_epi32(0x03020100);  // each byte's position in its group of four
  const __m512i slot_hi = _mm512_set1_epi32(0x07060504);
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* blk = sparse + b * kBlock;
    for (int v = 0; v < 3; ++v) {
      const __m512i vals = _mm512_loadu_si512(blk + 64 * v);
      const __m512i ctl = controls(blk + kIndexAt + 16 * v);
      // Group g's dense quad: byte p takes value s of the column where the value's position is p.
      __m512i g0 = _mm512_maskz_mov_epi8(_mm512_cmpeq_epi8_mask(spread_byte(ctl, 0), slot), spread_byte(vals, 0));
      g0 = _mm512_mask_mov_epi8(g0, _mm512_cmpeq_epi8_mask(spread_byte(ctl, 1), slot), spread_byte(vals, 1));
      __m512i g1 = _mm512_maskz_mov_epi8(_mm512_cmpeq_epi8_mask(spread_byte(ctl, 2), slot_hi), spread_byte(vals, 2));
      g1 = _mm512_mask_mov_epi8(g1, _mm512_cmpeq_epi8_mask(spread_byte(ctl, 3), slot_hi), spread_byte(vals, 3));
      _mm512_storeu_si512(dense + (2 * b) * 4 * kNR + 64 * v, g0);
      _mm512_storeu_si512(dense + (2 * b + 1) * 4 * kNR + 64 * v, g1);
    }
  }
}

void gemm_block_s8_2to4_avx512vbmi(const TileArgsS8& t) {
  const int64_t panels = (t.cols + kNR - 1) / kNR;
  for (int64_t q = 0; q < panels; ++q) {
    const int64_t nr = t.cols - q * kNR < kNR ? t.cols - q * kNR : kNR;
    const int nv = static_cast<int>((nr + 15) / 16);
    alignas(64) int32_t acc[kMR * kNR];
    for (int64_t i0 = 0, mr = 0; i0 < t.rows; i0 += mr) {
      mr = t.rows - i0 == kSMR + 1 ? kSMR + 1 : t.rows - i0 < kSMR ? t.rows - i0 : kSMR;
      kS24[mr - 1][nv - 1](t.kq, t.a + i0 * t.lda, t.lda, t.b + q * t.panel_stride, acc);
      finish_tile_s8_avx512(t, i0, q * kNR, mr, nr, acc);
    }
  }
}

}  // namespace r1::cpu::gemm
