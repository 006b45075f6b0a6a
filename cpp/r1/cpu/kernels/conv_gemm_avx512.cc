// AVX-512 tile GEMM of the convolutions (C = W * B over one output tile) with the epilogue (bias,
// residual, activation) applied in registers before the only store of the final K block, so a fused
// conv writes its output once. Compiled with -mavx512*; called only where cpu_features() has them.
// Raw pointers only: no std templates in this file (CMakeLists.txt says why).
#define R1_CONV_PLAIN_ONLY
#include "r1/cpu/kernels/conv_kernels.h"

#include <immintrin.h>

// GCC 12 reports the undefined passthrough operand of its own unmasked AVX-512 min/max intrinsics as
// "may be used uninitialized" (a false positive in avx512fintrin.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace r1::cpu::conv_avx512 {
namespace {

constexpr int kMR = 8;   // rows of C per micro tile: weights broadcast from W rows
constexpr int kNR = 32;  // columns per micro tile: two zmm of B

// C[MR x 16*NV] over K: A rows read straight from the weights (row stride lda), B rows of up to 16*NV
// columns (masks m0/m1 cover the valid ones; masked-off lanes are never loaded).
template <int MR, int NV>
void micro(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, __mmask16 m0,
           __mmask16 m1, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr) {
  __m512 c[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) c[r][v] = _mm512_setzero_ps();
  const float* a[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) a[r] = A + r * lda;
  const bool full = m0 == 0xFFFF && (NV == 1 || m1 == 0xFFFF);
  if (full) {
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb;
      __m512 b0 = _mm512_loadu_ps(b);
      __m512 b1 = NV > 1 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 w = _mm512_set1_ps(a[r][k]);
        c[r][0] = _mm512_fmadd_ps(w, b0, c[r][0]);
        if (NV > 1) c[r][NV - 1] = _mm512_fmadd_ps(w, b1, c[r][NV - 1]);
      }
    }
  } else {
    for (int64_t k = 0; k < K; ++k) {
      const float* b = B + k * ldb;
      __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
      __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, b + 16) : b0;
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m512 w = _mm512_set1_ps(a[r][k]);
        c[r][0] = _mm512_fmadd_ps(w, b0, c[r][0]);
        if (NV > 1) c[r][NV - 1] = _mm512_fmadd_ps(w, b1, c[r][NV - 1]);
      }
    }
  }
  __mmask16 mk[2] = {m0, m1};
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float* cr = C + r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      __m512 x = c[r][v];
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], cr + 16 * v));
      if (ep) {
        if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[r]));
        if (R) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], R + r * ldr + 16 * v));
        x = act_vec(x, ep->act, ep->alpha, ep->beta);
      }
      _mm512_mask_storeu_ps(cr + 16 * v, mk[v], x);
    }
  }
}

// Pulls a block of weight rows into cache a few lines at a time, spread over the micro tiles that run
// before it is used: weights stream from DRAM once per inference (ResNet-50: ~100 MB), and without
// this each W slice's first tile waits on DRAM latency.
struct Prefetcher {
  const char* base = nullptr;
  int64_t ld = 0, per_row = 0, total = 0, next = 0;
  void init(const float* p, int64_t lda, int64_t rows, int64_t cols) {
    base = reinterpret_cast<const char*>(p);
    ld = lda * 4;
    per_row = (cols * 4 + 63) / 64;
    total = rows > 0 ? rows * per_row : 0;
    next = 0;
  }
  void step(int64_t n) {
    for (; n > 0 && next < total; --n, ++next)
      _mm_prefetch(base + (next / per_row) * ld + (next % per_row) * 64, _MM_HINT_T0);
  }
};

// The weight block the next row block (or, after the last one, the next K slice) will read.
void plan_prefetch(Prefetcher* pf, const float* A, int64_t lda, int64_t M, int64_t K, int64_t a_more, int64_t i0,
                   int64_t mr_block) {
  if (i0 + mr_block < M) {
    int64_t rows = M - i0 - mr_block < mr_block ? M - i0 - mr_block : mr_block;
    pf->init(A + (i0 + mr_block) * lda, lda, rows, K);
  } else {
    pf->init(A + K, lda, M < mr_block ? M : mr_block, a_more < K ? a_more : K);
  }
}

using MicroFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, __mmask16, __mmask16,
                         bool, const ConvEpilogue*, const float*, const float*, int64_t);

template <int NV>
MicroFn pick(int mr) {
  switch (mr) {
    case 1:
      return micro<1, NV>;
    case 2:
      return micro<2, NV>;
    case 3:
      return micro<3, NV>;
    case 4:
      return micro<4, NV>;
    case 5:
      return micro<5, NV>;
    case 6:
      return micro<6, NV>;
    case 7:
      return micro<7, NV>;
    default:
      return micro<8, NV>;
  }
}

// Lanes 0..3 = the horizontal sums of a0..a3: a shuffle tree, ~3 operations per vector where four
// separate reductions would take ~8 each.
inline __m512 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  __m512 x = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));  // a0 a1 a0 a1 per 128 bits
  __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  __m512d xd = _mm512_castps_pd(x), yd = _mm512_castps_pd(y);
  __m512 z = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(xd, yd)), _mm512_castpd_ps(_mm512_unpackhi_pd(xd, yd)));
  z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0x4E));     // swap 256-bit halves
  return _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0xB1));  // swap 128-bit lanes within halves
}

// Inner-product tile: C[MR x NR] = sum over k of A rows . Bt rows, each accumulator a 16-wide partial
// sum over k, reduced once at the end. Used where the output has few columns (7x7 maps): vectors run
// along K, so no lane is wasted on a column count that is not a multiple of 16.
template <int MR, int NR>
void micro_ip(int64_t K, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C, int64_t ldc, int nr,
              bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) a[r] = _mm512_loadu_ps(A + r * lda + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __m512 b = _mm512_loadu_ps(Bt + j * ldbt + k);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[r][j] = _mm512_fmadd_ps(a[r], b, acc[r][j]);
    }
  }
  if (k < K) {
    __mmask16 m = tail_mask16(K - k);
    __m512 a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) a[r] = _mm512_maskz_loadu_ps(m, A + r * lda + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __m512 b = _mm512_maskz_loadu_ps(m, Bt + j * ldbt + k);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[r][j] = _mm512_fmadd_ps(a[r], b, acc[r][j]);
    }
  }
  const __mmask16 mk = tail_mask16(nr);
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    __m512 x = reduce4(acc[r][0], NR > 1 ? acc[r][NR > 1 ? 1 : 0] : zero, NR > 2 ? acc[r][NR > 2 ? 2 : 0] : zero,
                       NR > 3 ? acc[r][NR > 3 ? 3 : 0] : zero);
    float* cr = C + r * ldc;
    if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, cr));
    if (ep) {
      if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[r]));
      if (R) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, R + r * ldr));
      x = act_vec(x, ep->act, ep->alpha, ep->beta);
    }
    _mm512_mask_storeu_ps(cr, mk, x);
  }
}

// 6 rows x 4 columns: 24 accumulators; per 16 k: 6 row loads (L1) and 4 column loads (L2).
constexpr int kIpMR = 6;
constexpr int kIpNR = 4;
// K slice per pass: 6 packed rows of W (18 KB) stay in L1 while the Bt slice (N x 768) streams from L2.
constexpr int64_t kIpKc = 768;
constexpr int64_t kIpLda = kIpKc + 16;  // row stride of the packed W slice (not a power of two)

using IpFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, int, bool,
                      const ConvEpilogue*, const float*, const float*, int64_t);

template <int MR>
IpFn pick_ip(int nr) {
  switch (nr) {
    case 1:
      return micro_ip<MR, 1>;
    case 2:
      return micro_ip<MR, 2>;
    case 3:
      return micro_ip<MR, 3>;
    default:
      return micro_ip<MR, 4>;
  }
}

IpFn pick_ip(int mr, int nr) {
  switch (mr) {
    case 1:
      return pick_ip<1>(nr);
    case 2:
      return pick_ip<2>(nr);
    case 3:
      return pick_ip<3>(nr);
    case 4:
      return pick_ip<4>(nr);
    case 5:
      return pick_ip<5>(nr);
    default:
      return pick_ip<6>(nr);
  }
}

}  // namespace

void gemm_tile_ip(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C,
                  int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R,
                  int64_t ldr) {
  int64_t groups = (N + kIpNR - 1) / kIpNR;
  Prefetcher pf;
  int64_t kb = (K + kIpKc - 1) / kIpKc, kc = (K + kb - 1) / kb;
  kc = (kc + 15) / 16 * 16;
  for (int64_t k0 = 0; k0 < K; k0 += kc) {
    int64_t kl = K - k0 < kc ? K - k0 : kc;
    bool last = k0 + kl >= K;
    for (int64_t i0 = 0; i0 < M; i0 += kIpMR) {
      int mr = static_cast<int>(M - i0 < kIpMR ? M - i0 : kIpMR);
      plan_prefetch(&pf, A + k0, lda, M, kl, K - k0 - kl, i0, kIpMR);
      int64_t per_group = (pf.total + groups - 1) / groups;
      // Copy the 6-row slice of W to a buffer with a padded row stride: W rows 2^n floats apart map to
      // the same L1 sets and would evict each other (and the Bt rows) on every column group.
      alignas(64) float apack[kIpMR * kIpLda];
      for (int r = 0; r < mr; ++r) {
        const float* src = A + (i0 + r) * lda + k0;
        float* dst = apack + r * kIpLda;
        int64_t k = 0;
        for (; k + 16 <= kl; k += 16) _mm512_store_ps(dst + k, _mm512_loadu_ps(src + k));
        if (k < kl)
          _mm512_mask_storeu_ps(dst + k, tail_mask16(kl - k), _mm512_maskz_loadu_ps(tail_mask16(kl - k), src + k));
      }
      // Full 4-column groups, then the rest: a 1-3 column group is load-bound but short.
      for (int64_t j0 = 0, j1; j0 < N; j0 = j1) {
        j1 = N - j0 < kIpNR ? N : j0 + kIpNR;
        int nr = static_cast<int>(j1 - j0);
        pf.step(per_group);
        pick_ip(mr, nr)(kl, apack, kIpLda, Bt + j0 * ldbt + k0, ldbt, C + i0 * ldc + j0, ldc, nr, accumulate || k0 > 0,
                        last ? ep : nullptr, bias ? bias + i0 : nullptr, R ? R + i0 * ldr + j0 : nullptr, ldr);
      }
    }
  }
}

void gemm_tile(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr) {
  // Row blocks outer: an 8 x K slice of the weights stays in L1 while the B tile (in L2) streams past.
  // (Prefetching the next slice, as gemm_tile_ip does, measured neutral here: each W slice is reused
  // by every column panel, so its first misses are a small share.)
  for (int64_t i0 = 0; i0 < M; i0 += kMR) {
    int mr = static_cast<int>(M - i0 < kMR ? M - i0 : kMR);
    MicroFn f2 = pick<2>(mr), f1 = pick<1>(mr);
    const float* a = A + i0 * lda;
    const float* bi = bias ? bias + i0 : nullptr;
    const float* ri = R ? R + i0 * ldr : nullptr;
    for (int64_t j0 = 0; j0 < N; j0 += kNR) {
      int64_t nr = N - j0 < kNR ? N - j0 : kNR;
      float* c = C + i0 * ldc + j0;
      const float* rj = ri ? ri + j0 : nullptr;
      if (nr > 16)
        f2(K, a, lda, B + j0, ldb, c, ldc, tail_mask16(16), tail_mask16(nr - 16), accumulate, ep, bi, rj, ldr);
      else
        f1(K, a, lda, B + j0, ldb, c, ldc, tail_mask16(nr), 0, accumulate, ep, bi, rj, ldr);
    }
  }
}

void epilogue_row(float* y, int64_t n, float b, const float* r, const ConvEpilogue& ep) {
  __m512 vb = _mm512_set1_ps(b);
  for (int64_t j = 0; j < n; j += 16) {
    __mmask16 m = tail_mask16(n - j);
    __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + j), vb);
    if (r) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, r + j));
    _mm512_mask_storeu_ps(y + j, m, act_vec(x, ep.act, ep.alpha, ep.beta));
  }
}

void gather_row(const float* src, int64_t stride, int64_t n, float* dst) {
  int64_t i = 0;
  if (stride == 1) {
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask16(n - i), _mm512_maskz_loadu_ps(tail_mask16(n - i), src + i));
    return;
  }
  if (stride == 2) {
    // Even lanes of 31 consecutive floats.
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (; i + 16 <= n; i += 16) {
      const float* s = src + 2 * i;
      __m512 lo = _mm512_loadu_ps(s);
      __m512 hi = _mm512_maskz_loadu_ps(0x7FFF, s + 16);  // s[31] may lie past the row: not read
      _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(lo, even, hi));
    }
  }
  for (; i < n; ++i) dst[i] = src[i * stride];
}

}  // namespace r1::cpu::conv_avx512
