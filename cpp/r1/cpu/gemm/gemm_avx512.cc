// AVX-512 GEMM register kernels (fp32 FMA and AVX512-BF16 dot products) and the fused epilogue.
// Compiled with -mavx512*; called only when cpu_features() has the ISA (gemm.cc decides). Raw
// pointers only, no std templates (CMakeLists.txt says why).
//
// Why these shapes: an 8 x 48 tile is 24 zmm accumulators; per K step it loads 3 B vectors and
// broadcasts 8 A values (11 loads for 24 FMAs), so the FMA pipe is the only limit. The tile stays
// in registers for the whole depth (K up to TileArgs::k_block), and its epilogue runs while it is
// in L1: measured 107-116 GFLOP/s a core for fp32 (peak 117) and 224-232 for bf16 (peak 233) on
// the BERT shapes, against OpenBLAS's 93-100 and MLAS's ~105.
#include <immintrin.h>

#include <cstdint>

// GCC 12 flags the _mm512_undefined_ps() pass-through operand inside min/max/roundscale/scalef as
// "maybe uninitialized" once they are inlined into the templated epilogue: a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "r1/cpu/gemm/act_avx512.h"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {
namespace {

// C[MR, 16 NV] (+)= A[MR, kc] * B[kc, 16 NV]; the last vector's columns are masked by `last`.
template <int MR, int NV>
void kern_f32(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
              __mmask16 last, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + k * ldb + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + k]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * ldc + 16 * v;
      const __mmask16 m = v == NV - 1 ? last : static_cast<__mmask16>(0xffff);
      __m512 x = acc[r][v];
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, cp));
      _mm512_mask_storeu_ps(cp, m, x);
    }
}

// The same over kp pairs of K with bf16 operands: one 32-bit broadcast carries A[r, 2k..2k+1],
// and _mm512_dpbf16_ps adds both products into fp32.
template <int MR, int NV>
void kern_bf16(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float* c, int64_t ldc,
               __mmask16 last, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kp; ++k) {
    __m512bh bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + k * ldb + 32 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      __builtin_memcpy(&pair, a + r * lda + 2 * k, sizeof(pair));
      const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * ldc + 16 * v;
      const __mmask16 m = v == NV - 1 ? last : static_cast<__mmask16>(0xffff);
      __m512 x = acc[r][v];
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, cp));
      _mm512_mask_storeu_ps(cp, m, x);
    }
}

using KernF32 = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, __mmask16, bool);
using KernBF16 = void (*)(int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, __mmask16,
                          bool);

#define R1_KROW(K, MR) {K<MR, 1>, K<MR, 2>, K<MR, 3>}
const KernF32 kF32[kMR][3] = {R1_KROW(kern_f32, 1), R1_KROW(kern_f32, 2), R1_KROW(kern_f32, 3), R1_KROW(kern_f32, 4),
                              R1_KROW(kern_f32, 5), R1_KROW(kern_f32, 6), R1_KROW(kern_f32, 7), R1_KROW(kern_f32, 8)};
const KernBF16 kBF16[kMR][3] = {R1_KROW(kern_bf16, 1), R1_KROW(kern_bf16, 2), R1_KROW(kern_bf16, 3),
                                R1_KROW(kern_bf16, 4), R1_KROW(kern_bf16, 5), R1_KROW(kern_bf16, 6),
                                R1_KROW(kern_bf16, 7), R1_KROW(kern_bf16, 8)};
#undef R1_KROW

template <Act A>
void epilogue_rows(float* c, int64_t ldc, int64_t rows, int64_t cols, int64_t row0, int64_t col0, const Epilogue& ep) {
  const __m512 alpha = _mm512_set1_ps(ep.alpha);
  const __m512 pa = _mm512_set1_ps(ep.act_alpha), pb = _mm512_set1_ps(ep.act_beta);
  const bool scale = ep.alpha != 1.0f;
  for (int64_t r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* res = ep.residual ? ep.residual + (row0 + r) * ep.ld_residual + col0 : nullptr;
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m = tail_mask16(cols - j);
      __m512 x = _mm512_maskz_loadu_ps(m, cr + j);
      if (scale) x = _mm512_mul_ps(x, alpha);
      if (ep.bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, ep.bias + col0 + j));
      if (res) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, res + j));
      _mm512_mask_storeu_ps(cr + j, m, activate<A>(x, pa, pb));
    }
  }
}

bool epilogue_is_identity(const Epilogue* ep) {
  return !ep || (ep->alpha == 1.0f && !ep->bias && !ep->residual && ep->act == Act::None);
}

// The loops shared by both kernels: passes over K, panels of the task, 8-row tiles, and the
// epilogue of each tile right after its last pass.
template <bool BF16>
void run_block(const TileArgs& t) {
  const int64_t kb = t.k_block > 0 && t.k_block < t.k ? t.k_block : t.k;
  const int64_t panels = (t.cols + kNR - 1) / kNR;
  const bool epilogue = !epilogue_is_identity(t.ep);
  int64_t k0 = 0;
  do {
    const int64_t kc = t.k - k0 < kb ? t.k - k0 : kb;
    const bool accumulate = k0 > 0, last_pass = k0 + kc >= t.k;
    for (int64_t q = 0; q < panels; ++q) {
      const int64_t nr = t.cols - q * kNR < kNR ? t.cols - q * kNR : kNR;
      const int nv = static_cast<int>((nr + 15) / 16);
      const __mmask16 mask = tail_mask16(nr - 16 * (nv - 1));
      float* cq = t.c + q * kNR;
      for (int64_t i0 = 0; i0 < t.rows; i0 += kMR) {
        const int64_t mr = t.rows - i0 < kMR ? t.rows - i0 : kMR;
        float* ct = cq + i0 * t.ldc;
        if (BF16) {
          const uint16_t* bq = static_cast<const uint16_t*>(t.b) + q * t.panel_stride + (k0 / 2) * t.ldb;
          kBF16[mr - 1][nv - 1]((kc + 1) / 2, t.a_bf16 + i0 * t.lda_bf16 + k0, t.lda_bf16, bq, t.ldb, ct, t.ldc, mask,
                                accumulate);
        } else {
          const float* bq = static_cast<const float*>(t.b) + q * t.panel_stride + k0 * t.ldb;
          kF32[mr - 1][nv - 1](kc, t.a + i0 * t.lda + k0, t.lda, bq, t.ldb, ct, t.ldc, mask, accumulate);
        }
        if (last_pass && epilogue) epilogue_tile_avx512(ct, t.ldc, mr, nr, t.row0 + i0, t.col0 + q * kNR, *t.ep);
      }
    }
    k0 += kc;
  } while (k0 < t.k);
}

}  // namespace

void gemm_block_f32_avx512(const TileArgs& t) { run_block<false>(t); }
void gemm_block_bf16_avx512(const TileArgs& t) { run_block<true>(t); }

void epilogue_tile_avx512(float* c, int64_t ldc, int64_t rows, int64_t cols, int64_t row0, int64_t col0,
                          const Epilogue& ep) {
  switch (ep.act) {
#define R1_CASE(A)                                             \
  case Act::A:                                                 \
    epilogue_rows<Act::A>(c, ldc, rows, cols, row0, col0, ep); \
    return;
    R1_GEMM_ACTIVATIONS(R1_CASE)
#undef R1_CASE
  }
}

void f32_to_bf16_rows_avx512(const float* src, int64_t lds, uint16_t* dst, int64_t ldd, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    uint16_t* d = dst + r * ldd;
    int64_t j = 0;
    for (; j + 32 <= cols; j += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + j + 16), _mm512_loadu_ps(s + j));
      _mm512_storeu_si512(d + j, (__m512i)v);
    }
    for (; j < cols; j += 16) {
      const __mmask16 m = tail_mask16(cols - j);
      const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, s + j));
      _mm256_mask_storeu_epi16(d + j, m, (__m256i)v);
    }
    for (j = cols; j < ldd; ++j) d[j] = 0;
  }
}

}  // namespace r1::cpu::gemm
