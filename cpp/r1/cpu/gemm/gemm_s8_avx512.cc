// AVX512-VNNI int8 GEMM: uint8 activations x int8 weights with vpdpbusd, int32 accumulation, and
// dynamic per-row quantization of fp32 activations. Compiled with -mavx512*; called only when the CPU
// has AVX512-VNNI (gemm_s8.cc decides). Raw pointers only, no std templates (CMakeLists.txt says why).
//
// Why this shape: the 8 x 48 tile of the fp32 kernel, with each K step a quad: 3 B vectors (48
// columns x 4 bytes) and 8 broadcasts of 4 A bytes feed 24 vpdpbusd, 64 multiply-adds each. vpdpbusd
// (not vpdpbusds) adds each group of four u8 x s8 products into int32 without any 16-bit intermediate,
// so nothing saturates (the u8s8 overflow of vpmaddubsw that makes other engines quantize with
// reduce_range) and the integer result is exactly the portable kernel's on every CPU.
#include <immintrin.h>

#include <cstdint>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "r1/cpu/gemm/act_avx512.h"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kQuad = 4 * kNR;

// acc[MR, 16 NV] (int32, ld 48) = A[MR, 4 kq] (u8) x panel (s8). Only plain stores after the loop:
// anything more there (the zero-point correction, the float conversion) made GCC keep accumulators on
// the stack inside the K loop, at half the speed.
template <int MR, int NV>
void kern_s8(int64_t kq, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* acc_out) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kq; ++k) {
    __m512i bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_si512(b + k * kQuad + 64 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t quad;
      __builtin_memcpy(&quad, a + r * lda + 4 * k, sizeof(quad));
      const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(acc_out + r * kNR + 16 * v, acc[r][v]);
}

}  // namespace

// acc - A's zero point x the column sums, exact in int32.
inline __m512i corrected(const int32_t* acc, int32_t a_zero, __m512i bsum) {
  return _mm512_sub_epi32(_mm512_loadu_si512(acc), _mm512_mullo_epi32(_mm512_set1_epi32(a_zero), bsum));
}

// The float tile in one pass from the accumulators: scaled, then the epilogue (alpha, bias, residual,
// activation A, in epilogue_tile_avx512's order, so the bits are the same) before the only store of C.
template <Act A>
void finish_float_rows(const TileArgsS8& t, int64_t i0, int64_t j0, int64_t mr, int64_t nr, const int32_t* acc) {
  const Epilogue* ep = t.ep;
  const bool scale = ep && ep->alpha != 1.0f;
  const __m512 alpha = _mm512_set1_ps(ep ? ep->alpha : 1.0f);
  const __m512 pa = _mm512_set1_ps(ep ? ep->act_alpha : 0.0f), pb = _mm512_set1_ps(ep ? ep->act_beta : 0.0f);
  const float* bias = ep && ep->bias ? ep->bias + t.col0 + j0 : nullptr;
  for (int64_t j = 0; j < nr; j += 16) {
    const __mmask16 m = tail_mask16(nr - j);
    const __m512i bsum = _mm512_maskz_loadu_epi32(m, t.b_sum + j0 + j);
    const __m512 bscale = _mm512_maskz_loadu_ps(m, t.b_scale + j0 + j);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + j) : _mm512_setzero_ps();
    for (int64_t r = 0; r < mr; ++r) {
      const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(t.a_scale[i0 + r]), bscale);
      __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(corrected(acc + r * kNR + j, t.a_zero[i0 + r], bsum)), sc);
      if (scale) x = _mm512_mul_ps(x, alpha);
      if (bias) x = _mm512_add_ps(x, bv);
      if (ep && ep->residual) {
        const float* res = ep->residual + (t.row0 + i0 + r) * ep->ld_residual + t.col0 + j0 + j;
        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, res));
      }
      _mm512_mask_storeu_ps(t.c + (i0 + r) * t.ldc + j0 + j, m, activate<A>(x, pa, pb));
    }
  }
}

// Writes the tile [mr, nr] at (i0, j0) of the task from its accumulators: int32 as it is, or scaled to float
// with the epilogue.
void finish_tile_s8_avx512(const TileArgsS8& t, int64_t i0, int64_t j0, int64_t mr, int64_t nr, const int32_t* acc) {
  if (t.c32) {
    for (int64_t j = 0; j < nr; j += 16) {
      const __mmask16 m = tail_mask16(nr - j);
      const __m512i bsum = _mm512_maskz_loadu_epi32(m, t.b_sum + j0 + j);
      for (int64_t r = 0; r < mr; ++r)
        _mm512_mask_storeu_epi32(t.c32 + (i0 + r) * t.ldc + j0 + j, m,
                                 corrected(acc + r * kNR + j, t.a_zero[i0 + r], bsum));
    }
    return;
  }
  switch (t.ep ? t.ep->act : Act::None) {
#define R1_CASE(A)                                     \
  case Act::A:                                         \
    finish_float_rows<Act::A>(t, i0, j0, mr, nr, acc); \
    return;
    R1_GEMM_ACTIVATIONS(R1_CASE)
#undef R1_CASE
  }
}

namespace {

using KernS8 = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int32_t*);
#define R1_KROW(MR) {kern_s8<MR, 1>, kern_s8<MR, 2>, kern_s8<MR, 3>}
const KernS8 kS8[kMR][3] = {R1_KROW(1), R1_KROW(2), R1_KROW(3), R1_KROW(4),
                            R1_KROW(5), R1_KROW(6), R1_KROW(7), R1_KROW(8)};
#undef R1_KROW

}  // namespace

void gemm_block_s8_avx512(const TileArgsS8& t) {
  const int64_t panels = (t.cols + kNR - 1) / kNR;
  for (int64_t q = 0; q < panels; ++q) {
    const int64_t nr = t.cols - q * kNR < kNR ? t.cols - q * kNR : kNR;
    const int nv = static_cast<int>((nr + 15) / 16);
    alignas(64) int32_t acc[kMR * kNR];
    for (int64_t i0 = 0; i0 < t.rows; i0 += kMR) {
      const int64_t mr = t.rows - i0 < kMR ? t.rows - i0 : kMR;
      kS8[mr - 1][nv - 1](t.kq, t.a + i0 * t.lda, t.lda, t.b + q * t.panel_stride, acc);
      finish_tile_s8_avx512(t, i0, q * kNR, mr, nr, acc);
    }
  }
}

void quantize_rows_u8_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                             float* scale, int32_t* zero) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * lda;
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();  // the range always holds 0
    for (int64_t j = 0; j < k; j += 16) {
      const __mmask16 m = tail_mask16(k - j);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
      lo = _mm512_min_ps(lo, v);
      hi = _mm512_max_ps(hi, v);
    }
    const float mn = _mm512_reduce_min_ps(lo), mx = _mm512_reduce_max_ps(hi);
    float s = (mx - mn) / 255.f;
    if (!(s > 0.f)) s = 1.f;  // an all-zero row (or NaN): any scale gives q = 0
    const float inv = 1.f / s;
    float zf = __builtin_nearbyintf(-mn * inv);
    zf = zf < 0.f ? 0.f : zf > 255.f ? 255.f : zf;
    const int32_t z = static_cast<int32_t>(zf);
    scale[r] = s;
    zero[r] = z;
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i vz = _mm512_set1_epi32(z), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
    uint8_t* d = q + r * ldq;
    for (int64_t j = 0; j < ldq; j += 16) {
      const __mmask16 m = tail_mask16(k - j < 0 ? 0 : k - j);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
      __m512i iv = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, vinv)), vz);
      iv = _mm512_min_epi32(_mm512_max_epi32(iv, v0), v255);
      iv = _mm512_maskz_mov_epi32(m, iv);  // padding columns are 0, not the zero point
      const __mmask16 st = tail_mask16(ldq - j);
      _mm_mask_storeu_epi8(d + j, st, _mm512_cvtepi32_epi8(iv));
    }
  }
}

void quantize_rows_u8_fixed_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                                   float scale, int32_t zero) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512i vz = _mm512_set1_epi32(zero), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * lda;
    uint8_t* d = q + r * ldq;
    for (int64_t j = 0; j < ldq; j += 16) {
      const __mmask16 m = tail_mask16(k - j < 0 ? 0 : k - j);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
      __m512i iv = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_div_ps(v, vs)), vz);
      iv = _mm512_maskz_mov_epi32(m, _mm512_min_epi32(_mm512_max_epi32(iv, v0), v255));
      _mm_mask_storeu_epi8(d + j, tail_mask16(ldq - j), _mm512_cvtepi32_epi8(iv));
    }
  }
}

void minmax_rows_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, float* lo, float* hi) {
  __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; j += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(tail_mask16(k - j), a + r * lda + j);
      vlo = _mm512_min_ps(vlo, v);
      vhi = _mm512_max_ps(vhi, v);
    }
  *lo = _mm512_reduce_min_ps(vlo);
  *hi = _mm512_reduce_max_ps(vhi);
}

}  // namespace r1::cpu::gemm
