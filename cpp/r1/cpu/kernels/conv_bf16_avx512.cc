// AVX512-BF16 tile kernels of the convolutions (precision="bf16"): the same products as
// conv_gemm_avx512.cc with bf16 operands, _mm512_dpbf16_ps (two products per fp32 lane, so twice the
// multiply-adds of an fp32 FMA per instruction) and fp32 accumulation. The epilogue (bias, residual,
// activation) runs in fp32 on the accumulators before the only store, as in the fp32 tiles.
// Compiled with -mavx512*; called only where cpu_features() has AVX512-BF16. Raw pointers only: no
// std templates in this file (CMakeLists.txt says why).
#define R1_CONV_PLAIN_ONLY
#include "r1/cpu/kernels/conv_kernels.h"

#include <immintrin.h>

// GCC 12 reports the undefined passthrough operand of its own unmasked AVX-512 min/max intrinsics as
// "may be used uninitialized" (a false positive in avx512fintrin.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace r1::cpu::conv_avx512 {
namespace {

// A share of the 64-byte lines of rows [0, rows) x [0, 32 * lines) bf16 of a matrix at p (row stride
// lda): lines first .. first + count - 1, numbered row by row. The weights come from memory (a conv's
// weights are read once per run): the column blocks of one row block prefetch the next row block's
// weights between them, one line per step, so no block waits on its weights.
struct PrefetchLines {
  const uint16_t* p;
  int64_t lines, first, count;
};

// Column block jb's share (of nb blocks) of the next row block: `rows` rows of `lines` lines at p.
inline PrefetchLines prefetch_share(const uint16_t* p, int64_t rows, int64_t lines, int64_t jb, int64_t nb) {
  int64_t total = rows > 0 ? rows * lines : 0, share = (total + nb - 1) / nb, first = jb * share;
  return PrefetchLines{p, lines, first, first < total ? (total - first < share ? total - first : share) : 0};
}

// 8 rows x 48 columns: 24 accumulators; per K pair 3 B loads and 8 broadcasts for 24 dot products.
constexpr int kMR = 8;
constexpr int kNV = 3;

inline __m512 epilogue_vec(__m512 x, const ConvEpilogue* ep, const float* bias, int r, const float* R, int64_t ldr,
                           int64_t col, __mmask16 m) {
  if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[r]));
  if (R) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, R + r * ldr + col));
  return act_vec(x, ep->act, ep->alpha, ep->beta);
}

// C[MR x 16*NV] (+)= A[MR, 2*KP] * B over KP pairs of K. A: bf16 rows (row stride lda uint16), pair k at
// A + r * lda + 2k. B: pair rows of 32-bit (lo = row 2k, hi = row 2k + 1) with every column of the
// 16*NV loaded present (zero padded), so only the stores are masked (`last` covers the last vector).
template <int MR, int NV>
void micro(int64_t KP, const uint16_t* A, int64_t lda, const uint32_t* B, int64_t ldb, float* C, int64_t ldc,
           __mmask16 last, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr,
           const PrefetchLines* pf) {
  __m512 c[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) c[r][v] = _mm512_setzero_ps();
  const uint16_t* a[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) a[r] = A + r * lda;
  int64_t pf_left = pf ? pf->count : 0, pf_row = pf ? pf->first / pf->lines : 0;
  int64_t pf_line = pf ? pf->first - pf_row * pf->lines : 0;
#pragma GCC unroll 2
  for (int64_t k = 0; k < KP; ++k) {
    if (pf_left > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(pf->p + pf_row * lda + 32 * pf_line), _MM_HINT_T0);
      --pf_left;
      if (++pf_line == pf->lines) pf_line = 0, ++pf_row;
    }
    const uint32_t* b = B + k * ldb;
    __m512bh bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      __builtin_memcpy(&pair, a[r] + 2 * k, sizeof(pair));
      const __m512bh w = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_dpbf16_ps(c[r][v], w, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float* cr = C + r * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? last : __mmask16(0xFFFF);
      __m512 x = c[r][v];
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, cr + 16 * v));
      if (ep) x = epilogue_vec(x, ep, bias, r, R, ldr, 16 * v, m);
      _mm512_mask_storeu_ps(cr + 16 * v, m, x);
    }
  }
}

using MicroFn = void (*)(int64_t, const uint16_t*, int64_t, const uint32_t*, int64_t, float*, int64_t, __mmask16, bool,
                         const ConvEpilogue*, const float*, const float*, int64_t, const PrefetchLines*);

#define R1_ROW(MR) {micro<MR, 1>, micro<MR, 2>, micro<MR, 3>}
const MicroFn kMicro[kMR][kNV] = {R1_ROW(1), R1_ROW(2), R1_ROW(3), R1_ROW(4),
                                  R1_ROW(5), R1_ROW(6), R1_ROW(7), R1_ROW(8)};
#undef R1_ROW

// Lanes 0..3 = the horizontal sums of a0..a3 (as conv_gemm_avx512.cc's reduce4).
inline __m512 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  __m512 x = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  __m512d xd = _mm512_castps_pd(x), yd = _mm512_castps_pd(y);
  __m512 z = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(xd, yd)), _mm512_castpd_ps(_mm512_unpackhi_pd(xd, yd)));
  z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0x4E));
  return _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0xB1));
}

// Inner-product tile over K (a multiple of 32): A rows and Bt rows both bf16 along K, so one dot
// product instruction covers 32 k of one (row, column) pair and no lane is wasted on a column count
// that is not a multiple of 16 (7x7 outputs).
template <int MR, int NR>
void micro_ip(int64_t K, const uint16_t* A, int64_t lda, const uint16_t* Bt, int64_t ldbt, float* C, int64_t ldc,
              int nr, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr,
              const PrefetchLines* pf) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  // Line (row, kl) of pf's share: one prefetch per step.
  int64_t pf_left = pf ? pf->count : 0, pf_row = pf ? pf->first / pf->lines : 0;
  int64_t pf_line = pf ? pf->first - pf_row * pf->lines : 0;
  for (int64_t k = 0; k < K; k += 32) {
    if (pf_left > 0) {
      _mm_prefetch(reinterpret_cast<const char*>(pf->p + pf_row * lda + 32 * pf_line), _MM_HINT_T0);
      --pf_left;
      if (++pf_line == pf->lines) pf_line = 0, ++pf_row;
    }
    __m512bh a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) a[r] = (__m512bh)_mm512_loadu_si512(A + r * lda + k);
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      const __m512bh b = (__m512bh)_mm512_loadu_si512(Bt + j * ldbt + k);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], a[r], b);
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
    if (ep) x = epilogue_vec(x, ep, bias, r, R, ldr, 0, mk);
    _mm512_mask_storeu_ps(cr, mk, x);
  }
}

// 6 rows x 4 columns: 24 accumulators; per 32 k: 6 row loads (L1) and 4 column loads (L2).
constexpr int kIpMR = 6;
constexpr int kIpNR = 4;
// K slice per pass: 6 rows of W (18 KB of bf16) stay in L1 while the Bt slice streams from L2.
constexpr int64_t kIpKc = 1536;

using IpFn = void (*)(int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, int, bool,
                      const ConvEpilogue*, const float*, const float*, int64_t, const PrefetchLines*);

#define R1_ROW(MR) {micro_ip<MR, 1>, micro_ip<MR, 2>, micro_ip<MR, 3>, micro_ip<MR, 4>}
const IpFn kIp[kIpMR][kIpNR] = {R1_ROW(1), R1_ROW(2), R1_ROW(3), R1_ROW(4), R1_ROW(5), R1_ROW(6)};
#undef R1_ROW

}  // namespace

void gemm_tile_bf16(int64_t M, int64_t N, int64_t KP, const uint16_t* A, int64_t lda, const uint32_t* Bp, int64_t ldbp,
                    float* C, int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R,
                    int64_t ldr) {
  // Row blocks outer: an 8-row slice of the weights (8 KB per 512 pairs) stays in L1 while the packed
  // B tile (in L2) streams past.
  for (int64_t i0 = 0; i0 < M; i0 += kMR) {
    int mr = static_cast<int>(M - i0 < kMR ? M - i0 : kMR);
    const uint16_t* a = A + i0 * lda;
    const float* bi = bias ? bias + i0 : nullptr;
    const float* ri = R ? R + i0 * ldr : nullptr;
    int64_t nb = (N + 16 * kNV - 1) / (16 * kNV);
    for (int64_t j0 = 0; j0 < N; j0 += 16 * kNV) {
      int64_t nr = N - j0 < 16 * kNV ? N - j0 : 16 * kNV;
      int nv = static_cast<int>((nr + 15) / 16);
      int64_t next = M - i0 - kMR < kMR ? M - i0 - kMR : kMR;  // rows of the next row block
      PrefetchLines pf = prefetch_share(next > 0 ? a + kMR * lda : a, next, (KP + 15) / 16, j0 / (16 * kNV), nb);
      kMicro[mr - 1][nv - 1](KP, a, lda, Bp + j0, ldbp, C + i0 * ldc + j0, ldc, tail_mask16(nr - 16 * (nv - 1)),
                             accumulate, ep, bi, ri ? ri + j0 : nullptr, ldr, pf.count > 0 ? &pf : nullptr);
    }
  }
}

void gemm_tile_ip_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const uint16_t* Bt,
                       int64_t ldbt, float* C, int64_t ldc, const ConvEpilogue* ep, const float* bias, const float* R,
                       int64_t ldr) {
  int64_t kb = (K + kIpKc - 1) / kIpKc, kc = (K + kb - 1) / kb;
  kc = (kc + 31) / 32 * 32;
  for (int64_t k0 = 0; k0 < K; k0 += kc) {
    int64_t kl = K - k0 < kc ? K - k0 : kc;
    bool last = k0 + kl >= K;
    for (int64_t i0 = 0; i0 < M; i0 += kIpMR) {
      int mr = static_cast<int>(M - i0 < kIpMR ? M - i0 : kIpMR);
      int64_t nb = (N + kIpNR - 1) / kIpNR;
      for (int64_t j0 = 0; j0 < N; j0 += kIpNR) {
        int nr = static_cast<int>(N - j0 < kIpNR ? N - j0 : kIpNR);
        int64_t next = M - i0 - kIpMR < kIpMR ? M - i0 - kIpMR : kIpMR;  // rows of the next row block
        PrefetchLines pf = prefetch_share(next > 0 ? A + (i0 + kIpMR) * lda + k0 : A, next, kl / 32, j0 / kIpNR, nb);
        kIp[mr - 1][nr - 1](kl, A + i0 * lda + k0, lda, Bt + j0 * ldbt + k0, ldbt, C + i0 * ldc + j0, ldc, nr, k0 > 0,
                            last ? ep : nullptr, bias ? bias + i0 : nullptr, R ? R + i0 * ldr + j0 : nullptr, ldr,
                            pf.count > 0 ? &pf : nullptr);
      }
    }
  }
}

void pack_bf16_pairs(const float* r0, const float* r1, int64_t n, int64_t n_pad, uint32_t* dst) {
  // cvtne2ps gives [bf16(r0[0..15]) | bf16(r1[0..15])]; the permutation interleaves them into pairs.
  const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                         5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  for (int64_t j = 0; j < n_pad; j += 16) {
    __mmask16 m = j < n ? tail_mask16(n - j) : __mmask16(0);
    __m512 lo = _mm512_maskz_loadu_ps(m, r0 + j);
    __m512 hi = r1 ? _mm512_maskz_loadu_ps(m, r1 + j) : _mm512_setzero_ps();
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    _mm512_storeu_si512(dst + j, _mm512_permutexvar_epi16(inter, both));
  }
}

namespace {

// The taps of one im2col row k = (c, kh, kw): output row oh reads input row ih = oh * sh + ih0 of plane
// c at s + ih * W + ow * sw for the output columns [lo, hi) whose tap lands inside the row (s: the
// plane start plus the column offset, so it may point before the plane: only taps in [lo, hi) are read).
struct RowTaps {
  const float* s;
  int64_t ih0, lo, hi;
};

inline RowTaps row_taps(const float* xg, const Plane2d& q, int64_t k) {
  int64_t ks = q.KH * q.KW;
  int64_t c = k / ks, r = k - c * ks, kh = r / q.KW, kw = r - kh * q.KW;
  int64_t off = kw * q.dw - q.pw;
  int64_t lo = off >= 0 ? 0 : (-off + q.sw - 1) / q.sw;
  int64_t hi = q.W - 1 - off < 0 ? 0 : (q.W - 1 - off) / q.sw + 1;
  hi = hi < q.OW ? hi : q.OW;
  return RowTaps{xg + c * q.H * q.W + off, kh * q.dh - q.ph, lo, hi};
}

// One row's taps in output row oh: s + ow * sw for the columns [lo, hi) (hi <= lo: none).
struct SegTaps {
  const float* s;
  int64_t lo_s, hi_s;
  __m512i lo, hi;    // column bounds, broadcast
  __m512i plo, phi;  // stride 2: the float positions [2 lo, 2 hi - 1) read past s
};

inline SegTaps seg_taps(const RowTaps& t, const Plane2d& q, int64_t oh, int64_t ow1) {
  int64_t ih = oh * q.sh + t.ih0;
  int64_t lo = t.lo, hi = t.hi < ow1 ? t.hi : ow1;
  if (ih < 0 || ih >= q.H) hi = lo;
  const float* s = hi > lo ? t.s + ih * q.W : t.s;
  return SegTaps{s,
                 lo,
                 hi,
                 _mm512_set1_epi32(static_cast<int>(lo)),
                 _mm512_set1_epi32(static_cast<int>(hi)),
                 _mm512_set1_epi32(static_cast<int>(2 * lo)),
                 _mm512_set1_epi32(static_cast<int>(2 * hi - 1))};
}

// The 16 taps of columns col (= ow + lane) from t, 0 outside [lo, hi): lanes outside are never read.
// SW: 1, 2, or 0 (any stride: a gather).
template <int SW>
inline __m512 load_taps(const SegTaps& t, int64_t ow, __m512i col, __m512i pos, int64_t sw, __m512i gidx) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  if (SW != 0 && ow >= t.lo_s && ow + 16 <= t.hi_s) {  // all 16 taps inside the row: no masks
    if (SW == 1) return _mm512_loadu_ps(t.s + ow);
    __m512 lo = _mm512_loadu_ps(t.s + 2 * ow);
    __m512 hi = _mm512_maskz_loadu_ps(0x7FFF, t.s + 2 * ow + 16);  // s[31] may lie past the row
    return _mm512_permutex2var_ps(lo, even, hi);
  }
  __mmask16 m = _mm512_cmpge_epi32_mask(col, t.lo) & _mm512_cmplt_epi32_mask(col, t.hi);
  if (SW == 1) return _mm512_maskz_loadu_ps(m, t.s + ow);
  if (SW == 2) {
    // Even lanes of 32 consecutive floats: only positions between the first and last tap are read.
    const __m512i pos_hi = _mm512_add_epi32(pos, _mm512_set1_epi32(16));
    __mmask16 ml = _mm512_cmpge_epi32_mask(pos, t.plo) & _mm512_cmplt_epi32_mask(pos, t.phi);
    __mmask16 mh = _mm512_cmpge_epi32_mask(pos_hi, t.plo) & _mm512_cmplt_epi32_mask(pos_hi, t.phi);
    __m512 lo = _mm512_maskz_loadu_ps(ml, t.s + 2 * ow);
    __m512 hi = _mm512_maskz_loadu_ps(mh, t.s + 2 * ow + 16);
    return _mm512_maskz_permutex2var_ps(m, lo, even, hi);
  }
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, gidx, t.s + ow * sw, 4);
}

template <int SW>
void im2col_pairs(const float* xg, const Plane2d& q, int64_t k0, int64_t k1, int64_t j0, int64_t nc, int64_t ldt,
                  uint32_t* dst) {
  const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                         5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i gidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(static_cast<int>(q.sw)));
  const int64_t oh_first = j0 / q.OW, ow_first = j0 - oh_first * q.OW, end = j0 + nc;
  for (int64_t k = k0; k < k1; k += 2) {
    uint32_t* d = dst + (k - k0) / 2 * ldt;
    RowTaps r0 = row_taps(xg, q, k);
    RowTaps r1 = k + 1 < k1 ? row_taps(xg, q, k + 1) : RowTaps{xg, 0, 0, 0};
    int64_t oh = oh_first, ow0 = ow_first;
    for (int64_t j = j0; j < end; ++oh, ow0 = 0) {
      int64_t ow1 = q.OW < ow0 + (end - j) ? q.OW : ow0 + (end - j);
      uint32_t* dd = d + (j - j0) - ow0;  // dd[ow] is the column of (oh, ow)
      SegTaps t0 = seg_taps(r0, q, oh, ow1), t1 = seg_taps(r1, q, oh, ow1);
      const __m512i ow1v = _mm512_set1_epi32(static_cast<int>(ow1));
      __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(ow0)));
      __m512i pos = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(2 * ow0)));
      for (int64_t ow = ow0; ow < ow1; ow += 16) {
        __m512 v0 = load_taps<SW>(t0, ow, col, pos, q.sw, gidx);
        __m512 v1 = load_taps<SW>(t1, ow, col, pos, q.sw, gidx);
        __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
        _mm512_mask_storeu_epi32(dd + ow, _mm512_cmplt_epi32_mask(col, ow1v), _mm512_permutexvar_epi16(inter, both));
        col = _mm512_add_epi32(col, _mm512_set1_epi32(16));
        pos = _mm512_add_epi32(pos, _mm512_set1_epi32(32));
      }
      j += ow1 - ow0;
    }
    for (int64_t j = nc; j < ldt; ++j) d[j] = 0;
  }
}

}  // namespace

void im2col_bf16_pairs(const float* xg, const Plane2d& q, int64_t k0, int64_t k1, int64_t j0, int64_t nc, int64_t ldt,
                       uint32_t* dst) {
  if (q.sw == 1) {
    im2col_pairs<1>(xg, q, k0, k1, j0, nc, ldt, dst);
  } else if (q.sw == 2) {
    im2col_pairs<2>(xg, q, k0, k1, j0, nc, ldt, dst);
  } else {
    im2col_pairs<0>(xg, q, k0, k1, j0, nc, ldt, dst);
  }
}

void ip_columns_bf16(const float* x, const int32_t* tab, int64_t period, int64_t KS, int64_t IS, int64_t K, int64_t OS,
                     int64_t kb, int64_t ke, uint16_t* Bt, int64_t ldbt) {
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t k = kb; k < ke; k += 32) {
    // Columns [k, k + 16) and [k + 16, k + 32): the table window at r = k mod period, from channel
    // (k - r) / KS on (period is 16 * KS, so a window never wraps).
    int64_t r0 = k % period, r1 = (k + 16) % period;
    const float* x0 = x + (k - r0) / KS * IS;
    const float* x1 = x + (k + 16 - r1) / KS * IS;
    __mmask16 in0 = _mm512_cmplt_epi32_mask(iota, _mm512_set1_epi32(static_cast<int>(K - k < 16 ? K - k : 16)));
    __mmask16 in1 = _mm512_cmplt_epi32_mask(
        iota, _mm512_set1_epi32(static_cast<int>(K - k - 16 < 0 ? 0 : (K - k - 16 < 16 ? K - k - 16 : 16))));
    for (int64_t j = 0; j < OS; ++j) {
      const int32_t* t = tab + j * period;
      __m512i i0 = _mm512_loadu_si512(t + r0), i1 = _mm512_loadu_si512(t + r1);
      __mmask16 m0 = in0 & _mm512_cmpge_epi32_mask(i0, zero), m1 = in1 & _mm512_cmpge_epi32_mask(i1, zero);
      __m512 v0 = m0 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, i0, x0, 4) : _mm512_setzero_ps();
      __m512 v1 = m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, i1, x1, 4) : _mm512_setzero_ps();
      _mm512_storeu_si512(Bt + j * ldbt + k, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
    }
  }
}

void to_bf16_row(const float* src, int64_t n, int64_t n_pad, uint16_t* dst) {
  for (int64_t j = 0; j < n_pad; j += 16) {
    __mmask16 m = j < n ? tail_mask16(n - j) : __mmask16(0);
    __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + j));
    _mm256_mask_storeu_epi16(dst + j, tail_mask16(n_pad - j), (__m256i)v);
  }
}

}  // namespace r1::cpu::conv_avx512
