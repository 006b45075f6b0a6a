// AVX-512 building blocks of the fused attention kernel (attention.cc): register-tiled small GEMMs
// in fp32 (FMA) and bf16 (AVX512-BF16 dot products, fp32 accumulation), a 16x16 transpose and the
// bf16 packers. Compiled with -mavx512*; called only when cpu_features() has the ISA. Raw pointers
// only, no std templates, no project headers with inline functions (see CMakeLists.txt).
// GCC 12's own AVX-512 headers trip -Wuninitialized (the _mm512_undefined_* placeholders they use).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "r1/cpu/gemm/act_avx512.h"

namespace r1::cpu {
namespace {
using gemm::tail_mask16;

// Rows read with a stride (heads interleaved in a [B, S, H, D] tensor) defeat the hardware
// prefetcher, which follows contiguous streams: fetch the row kAhead rows on by hand (MiniLM b32 bf16:
// the packing of strided Q, K, V took ~2x the time of contiguous rows; this recovers about half).
inline void prefetch_row(const float* row, int64_t cols) {
  for (int64_t c = 0; c < cols; c += 16) _mm_prefetch(reinterpret_cast<const char*>(row + c), _MM_HINT_T0);
}
constexpr int64_t kAhead = 8;

// C tile [MR x (16 or 32)] = init + A[MR x k] * B[k x cols]; init: 0, C, or C * row_scale[i], added
// after the loop so the accumulators start at zero (GCC then keeps them all in registers; a
// conditional start value made it spill them every step). B rows are read with masks, so
// nothing past the tile's columns is touched.
template <int MR, bool TWO>
inline void store_tile(__m512* c0, __m512* c1, float* C, int64_t ldc, __mmask16 m0, __mmask16 m1, const float* rs,
                       bool acc) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (acc) {
      const __m512 f = _mm512_set1_ps(rs ? rs[i] : 1.0f);
      c0[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, C + i * ldc), f, c0[i]);
      if (TWO) c1[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, C + i * ldc + 16), f, c1[i]);
    }
    _mm512_mask_storeu_ps(C + i * ldc, m0, c0[i]);
    if (TWO) _mm512_mask_storeu_ps(C + i * ldc + 16, m1, c1[i]);
  }
}

template <int MR, bool TWO>
inline void tile_f32(int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                     __mmask16 m0, __mmask16 m1, const float* rs, bool acc) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + p * ldb);
    const __m512 b1 = TWO ? _mm512_maskz_loadu_ps(m1, B + p * ldb + 16) : b0;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(A[i * lda + p]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      if (TWO) c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
  store_tile<MR, TWO>(c0, c1, C, ldc, m0, m1, rs, acc);
}

// The same with bf16 pairs: A and B hold two bf16 per 32-bit word (consecutive k), k2 = words.
template <int MR, bool TWO>
inline void tile_bf16(int64_t k2, const int32_t* A, int64_t lda, const int32_t* B, int64_t ldb, float* C, int64_t ldc,
                      __mmask16 m0, __mmask16 m1, const float* rs, bool acc) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k2; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, B + p * ldb);
    const __m512bh b1 = TWO ? (__m512bh)_mm512_maskz_loadu_epi32(m1, B + p * ldb + 16) : b0;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(A[i * lda + p]);
      c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);
      if (TWO) c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);
    }
  }
  store_tile<MR, TWO>(c0, c1, C, ldc, m0, m1, rs, acc);
}

constexpr int kMR = 8;  // 8 rows x 32 columns: 16 accumulators, 2 B loads and 8 broadcasts per step

template <class Elem, bool BF16>
void gemm_impl(int64_t m, int64_t n, int64_t k, const Elem* A, int64_t lda, const Elem* B, int64_t ldb, float* C,
               int64_t ldc, const float* rs, bool acc) {
  // Columns outer: the B panel (k x 32) stays in L1 while every row block streams past it.
  for (int64_t j = 0; j < n; j += 32) {
    const int64_t nc = n - j < 32 ? n - j : 32;
    const __mmask16 m0 = tail_mask16(nc), m1 = tail_mask16(nc > 16 ? nc - 16 : 0);
    const bool two = nc > 16;
    for (int64_t i = 0; i < m; i += kMR) {
      const int64_t mr = m - i < kMR ? m - i : kMR;
      const Elem* a = A + i * lda;
      const Elem* b = B + j;
      float* c = C + i * ldc + j;
      const float* r = rs ? rs + i : nullptr;
#define R1_TILE(MRV)                                                                                      \
  case MRV:                                                                                               \
    if (BF16) {                                                                                           \
      if (two)                                                                                            \
        tile_bf16<MRV, true>(k, (const int32_t*)a, lda, (const int32_t*)b, ldb, c, ldc, m0, m1, r, acc);  \
      else                                                                                                \
        tile_bf16<MRV, false>(k, (const int32_t*)a, lda, (const int32_t*)b, ldb, c, ldc, m0, m1, r, acc); \
    } else {                                                                                              \
      if (two)                                                                                            \
        tile_f32<MRV, true>(k, (const float*)a, lda, (const float*)b, ldb, c, ldc, m0, m1, r, acc);       \
      else                                                                                                \
        tile_f32<MRV, false>(k, (const float*)a, lda, (const float*)b, ldb, c, ldc, m0, m1, r, acc);      \
    }                                                                                                     \
    break;
      switch (mr) {
        R1_TILE(1) R1_TILE(2) R1_TILE(3) R1_TILE(4) R1_TILE(5) R1_TILE(6) R1_TILE(7) R1_TILE(8) default : break;
      }
#undef R1_TILE
    }
  }
}

// In-register transpose of 16 rows of 16 32-bit elements.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4g + k], 128-bit lane L now holds rows 4g..4g+3 of column 4L + k.
  for (int k = 0; k < 4; ++k) {
    t[4 * k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
    t[4 * k + 1] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD);
    t[4 * k + 2] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
    t[4 * k + 3] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[4 * k], t[4 * k + 2], 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(t[4 * k], t[4 * k + 2], 0xDD);
    r[4 + k] = _mm512_shuffle_f32x4(t[4 * k + 1], t[4 * k + 3], 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(t[4 * k + 1], t[4 * k + 3], 0xDD);
  }
}

}  // namespace

// C[m x n] = (accumulate ? C * row_scale : 0) + A[m x k] * B[k x n] (row_scale null = 1).
void attn_gemm_f32_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                          float* C, int64_t ldc, const float* row_scale, bool accumulate) {
  gemm_impl<float, false>(m, n, k, A, lda, B, ldb, C, ldc, row_scale, accumulate);
}

// The same over bf16 pairs (k2 words of two bf16 each along k).
void attn_gemm_bf16_avx512(int64_t m, int64_t n, int64_t k2, const int32_t* A, int64_t lda, const int32_t* B,
                           int64_t ldb, float* C, int64_t ldc, const float* row_scale, bool accumulate) {
  gemm_impl<int32_t, true>(m, n, k2, A, lda, B, ldb, C, ldc, row_scale, accumulate);
}

// dst[c * ldd + r] = src[r * lds + c] for 32-bit elements (floats or bf16 pairs).
void attn_transpose32_avx512(const void* src_v, int64_t lds, int64_t rows, int64_t cols, void* dst_v, int64_t ldd) {
  const float* src = static_cast<const float*>(src_v);
  float* dst = static_cast<float*>(dst_v);
  __m512 r[16];
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = rows - r0 < 16 ? rows - r0 : 16;
    const __mmask16 rmask = tail_mask16(nr);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t nc = cols - c0 < 16 ? cols - c0 : 16;
      const __mmask16 cmask = tail_mask16(nc);
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? _mm512_maskz_loadu_ps(cmask, src + (r0 + i) * lds + c0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t i = 0; i < nc; ++i) _mm512_mask_storeu_ps(dst + (c0 + i) * ldd + r0, rmask, r[i]);
    }
  }
}

// Rows of fp32 to bf16 (round to nearest even); when cols is odd, column `cols` is written as 0 so
// the last pair of each row is complete.
void attn_to_bf16_rows_avx512(const float* src, int64_t lds, int64_t rows, int64_t cols, uint16_t* dst, int64_t ldd) {
  const int64_t cols_even = (cols + 1) & ~int64_t{1};
  for (int64_t i = 0; i < rows; ++i) {
    const float* s = src + i * lds;
    uint16_t* d = dst + i * ldd;
    if (lds > cols && i + kAhead < rows) prefetch_row(s + kAhead * lds, cols);
    for (int64_t c = 0; c < cols_even; c += 16) {
      const int64_t nc = cols - c < 16 ? (cols - c > 0 ? cols - c : 0) : 16;
      const int64_t nw = cols_even - c < 16 ? cols_even - c : 16;
      __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail_mask16(nc), s + c));
      _mm256_mask_storeu_epi16(d + c, tail_mask16(nw), (__m256i)h);
    }
  }
}

// Pairs of rows interleaved into bf16 words: dst[p * ldd + c] = (src[2p][c], src[2p+1][c]) with the
// first in the low half; a missing last row (odd `rows`) reads as 0.
void attn_pack_pairs_bf16_avx512(const float* src, int64_t lds, int64_t rows, int64_t cols, int32_t* dst, int64_t ldd) {
  // Word w of the result takes bf16 lane w of the even row and lane w of the odd row.
  alignas(64) static const int16_t kIdx[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                               8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i idx = _mm512_load_si512(kIdx);
  for (int64_t p = 0; 2 * p < rows; ++p) {
    const float* e = src + 2 * p * lds;
    const float* o = 2 * p + 1 < rows ? e + lds : nullptr;
    int32_t* d = dst + p * ldd;
    if (lds > cols && 2 * p + kAhead + 1 < rows) {
      prefetch_row(e + kAhead * lds, cols);
      prefetch_row(e + (kAhead + 1) * lds, cols);
    }
    for (int64_t c = 0; c < cols; c += 16) {
      const __mmask16 m = tail_mask16(cols - c);
      const __m512 ve = _mm512_maskz_loadu_ps(m, e + c);
      const __m512 vo = o ? _mm512_maskz_loadu_ps(m, o + c) : _mm512_setzero_ps();
      // cvtne2ps(a, b): bf16 lanes 0..15 from b, 16..31 from a.
      const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(vo, ve);
      _mm512_mask_storeu_epi32(d + c, m, _mm512_permutexvar_epi16(idx, both));
    }
  }
}

}  // namespace r1::cpu
