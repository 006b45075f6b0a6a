// AVX-512 plane kernels: depthwise convolution (conv_depthwise.cc, epilogue fused) and max pooling (pool.cc).
// A plane is first copied into a padded scratch plane (pads hold 0 for the conv, -inf for the pool),
// so every kernel tap of 16 output columns is one plain unaligned load: no masks, no border cases.
// For stride 2 the copy also splits even and odd columns, so stride-2 taps are plain loads too.
// The copy costs one load and store per input element against KH*KW loads and FMAs per output.
// Raw pointers only: no std templates in this file (CMakeLists.txt says why).
#define R1_CONV_PLAIN_ONLY
#include "r1/cpu/kernels/conv_kernels.h"

#include <immintrin.h>
#include <stdint.h>

// GCC 12 reports the undefined passthrough operand of its own unmasked AVX-512 min/max intrinsics as
// "may be used uninitialized" (a false positive in avx512fintrin.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace r1::cpu::conv_avx512 {
namespace {

// Lanes i < 16 whose column start + i lies inside [0, W).
inline __mmask16 range_bits(int64_t start, int64_t W) {
  int64_t lo = start < 0 ? -start : 0;
  int64_t hi = W - start < 16 ? W - start : 16;
  if (hi <= lo) return 0;
  unsigned bits = ((hi >= 16 ? 0x10000u : (1u << hi)) - 1u) & ~((1u << lo) - 1u);
  return static_cast<__mmask16>(bits);
}

}  // namespace

PaddedPlane padded_plane_geometry(const Plane2d& q) {
  PaddedPlane p;
  int64_t chunks = (q.OW + 15) / 16;
  p.rows = (q.OH - 1) * q.sh + (q.KH - 1) * q.dh + 1;
  p.split = q.sw == 2;
  if (p.split) {
    p.half = (chunks * 16 + ((q.KW - 1) * q.dw) / 2 + 1 + 15) / 16 * 16;
    p.row_len = 2 * p.half;
  } else {
    p.half = 0;
    p.row_len = ((chunks * 16 - 1) * q.sw + (q.KW - 1) * q.dw + 1 + 15) / 16 * 16;
  }
  return p;
}

void build_padded_rows(const float* x, const Plane2d& q, const PaddedPlane& p, float fill_value, int64_t r0, int64_t r1,
                       float* P) {
  const __m512 fill = _mm512_set1_ps(fill_value);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t r = r0; r < r1; ++r) {
    int64_t ih = r - q.ph;
    float* d = P + (r - r0) * p.row_len;
    if (ih < 0 || ih >= q.H) {
      for (int64_t j = 0; j < p.row_len; j += 16) _mm512_store_ps(d + j, fill);
      continue;
    }
    const float* xr = x + ih * q.W;
    if (!p.split) {
      for (int64_t j = 0; j < p.row_len; j += 16) {
        int64_t s = j - q.pw;  // input column of padded column j
        __m512 v =
            s >= 0 && s + 16 <= q.W ? _mm512_loadu_ps(xr + s) : _mm512_mask_loadu_ps(fill, range_bits(s, q.W), xr + s);
        _mm512_store_ps(d + j, v);
      }
    } else {
      for (int64_t i = 0; i < p.half; i += 16) {
        int64_t s = 2 * i - q.pw;  // input column of padded column 2i
        __m512 lo =
            s >= 0 && s + 16 <= q.W ? _mm512_loadu_ps(xr + s) : _mm512_mask_loadu_ps(fill, range_bits(s, q.W), xr + s);
        __m512 hi = s + 16 >= 0 && s + 32 <= q.W ? _mm512_loadu_ps(xr + s + 16)
                                                 : _mm512_mask_loadu_ps(fill, range_bits(s + 16, q.W), xr + s + 16);
        _mm512_store_ps(d + i, _mm512_permutex2var_ps(lo, even, hi));
        _mm512_store_ps(d + p.half + i, _mm512_permutex2var_ps(lo, odd, hi));
      }
    }
  }
}

namespace {
using Padded = PaddedPlane;

// Address in padded row `row` of the tap at column offset `off` (= kw * dw) for output column ow0.
inline const float* tap_ptr(const float* row, const Padded& p, int64_t sw, int64_t ow0, int64_t off) {
  if (p.split) return row + ((off & 1) ? p.half : 0) + ow0 + (off >> 1);
  return row + ow0 * sw + off;
}

// Taps of 16 output columns, for strides that are neither 1 nor 2 (a gather).
inline __m512 load_tap(const float* ptr, int64_t sw, bool plain) {
  if (plain) return _mm512_loadu_ps(ptr);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  return _mm512_i32gather_ps(_mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(sw))), ptr, 4);
}

// v = columns [k, k + 16) of the pair (cur, next): one valignd instead of an unaligned load (every
// unaligned 64-byte load splits across two cache lines). k is a constant once the callers unroll.
inline __m512 shifted(__m512 cur, __m512 next, int k) {
#define R1_ALIGNR(n) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(cur), n))
  switch (k) {
    case 0:
      return cur;
    case 1:
      return R1_ALIGNR(1);
    case 2:
      return R1_ALIGNR(2);
    case 3:
      return R1_ALIGNR(3);
    case 4:
      return R1_ALIGNR(4);
    case 5:
      return R1_ALIGNR(5);
    default:
      return R1_ALIGNR(6);
  }
#undef R1_ALIGNR
}

// One output row of a K x K undilated kernel, stride S (1 or 2): depthwise (kMax false: FMAs with the
// weights wv, then the epilogue) or max pooling (kMax true). Padded rows are 64-byte aligned, so each
// tap row costs one aligned load per 16 outputs (two for stride 2) plus shifts.
template <int K, int S, bool kMax>
void row_fixed(const float* const* rows, int64_t half, int64_t OW, const __m512* wv, __m512 init, const float* rr,
               float* yr, const ConvEpilogue* ep) {
  __m512 ec[K], oc[K];  // current 16 even (or all) and odd columns of each tap row
#pragma GCC unroll 7
  for (int kh = 0; kh < K; ++kh) {
    ec[kh] = _mm512_load_ps(rows[kh]);
    oc[kh] = S == 2 ? _mm512_load_ps(rows[kh] + half) : ec[kh];
  }
  for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
    __m512 acc0 = init, acc1 = kMax ? init : _mm512_setzero_ps();  // two dependency chains
#pragma GCC unroll 7
    for (int kh = 0; kh < K; ++kh) {
      __m512 en = _mm512_load_ps(rows[kh] + ow0 + 16);
      __m512 on = S == 2 ? _mm512_load_ps(rows[kh] + half + ow0 + 16) : en;
#pragma GCC unroll 7
      for (int kw = 0; kw < K; ++kw) {
        __m512 v = S == 1     ? shifted(ec[kh], en, kw)
                   : (kw & 1) ? shifted(oc[kh], on, kw / 2)
                              : shifted(ec[kh], en, kw / 2);
        if (kMax) {
          if ((kh * K + kw) & 1)
            acc1 = _mm512_max_ps(acc1, v);
          else
            acc0 = _mm512_max_ps(acc0, v);
        } else if ((kh * K + kw) & 1) {
          acc1 = _mm512_fmadd_ps(v, wv[kh * K + kw], acc1);
        } else {
          acc0 = _mm512_fmadd_ps(v, wv[kh * K + kw], acc0);
        }
      }
      ec[kh] = en;
      oc[kh] = on;
    }
    __mmask16 m = tail_mask16(OW - ow0);
    __m512 v = kMax ? _mm512_max_ps(acc0, acc1) : _mm512_add_ps(acc0, acc1);
    if (!kMax) {
      if (rr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, rr + ow0));
      v = act_vec(v, ep->act, ep->alpha, ep->beta);
    }
    _mm512_mask_storeu_ps(yr + ow0, m, v);
  }
}

template <bool kMax>
bool run_fixed(const float* row0, const Padded& p, const Plane2d& q, const __m512* wv, __m512 init, const float* rr,
               float* yr, const ConvEpilogue* ep) {
  if (q.KH != q.KW || q.dh != 1 || q.dw != 1 || (q.sw != 1 && q.sw != 2)) return false;
  const float* rows[7];
  for (int64_t kh = 0; kh < q.KH && kh < 7; ++kh) rows[kh] = row0 + kh * p.row_len;
  switch (q.KW * 4 + q.sw) {
    case 3 * 4 + 1:
      row_fixed<3, 1, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    case 3 * 4 + 2:
      row_fixed<3, 2, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    case 5 * 4 + 1:
      row_fixed<5, 1, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    case 5 * 4 + 2:
      row_fixed<5, 2, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    case 7 * 4 + 1:
      row_fixed<7, 1, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    case 7 * 4 + 2:
      row_fixed<7, 2, kMax>(rows, p.half, q.OW, wv, init, rr, yr, ep);
      return true;
    default:
      return false;
  }
}

constexpr int kMaxFixedTaps = 49;  // up to 7x7 keeps every weight in a register array

float* align64(float* p) { return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63}); }

}  // namespace

int64_t plane_scratch_floats(const Plane2d& q) {
  Padded p = padded_plane_geometry(q);
  return p.rows * p.row_len + 16;  // + room to align to 64 bytes
}

void depthwise_plane(const float* x, const float* w, float b, const float* r, float* y, const Plane2d& q,
                     const ConvEpilogue& ep, float* scratch) {
  Padded p = padded_plane_geometry(q);
  float* P = align64(scratch);
  build_padded_rows(x, q, p, 0.f, 0, p.rows, P);
  const __m512 vb = _mm512_set1_ps(b);
  const bool plain = q.sw == 1 || q.sw == 2;
  __m512 wv[kMaxFixedTaps];
  if (q.KH * q.KW <= kMaxFixedTaps)
    for (int64_t t = 0; t < q.KH * q.KW; ++t) wv[t] = _mm512_set1_ps(w[t]);
  for (int64_t oh = 0; oh < q.OH; ++oh) {
    float* yr = y + oh * q.OW;
    const float* rr = r ? r + oh * q.OW : nullptr;
    const float* row0 = P + oh * q.sh * p.row_len;
    if (run_fixed<false>(row0, p, q, wv, vb, rr, yr, &ep)) continue;
    for (int64_t ow0 = 0; ow0 < q.OW; ow0 += 16) {
      __m512 acc = vb;
      for (int64_t kh = 0; kh < q.KH; ++kh) {
        const float* row = row0 + kh * q.dh * p.row_len;
        for (int64_t kw = 0; kw < q.KW; ++kw)
          acc = _mm512_fmadd_ps(load_tap(tap_ptr(row, p, q.sw, ow0, kw * q.dw), q.sw, plain),
                                _mm512_set1_ps(w[kh * q.KW + kw]), acc);
      }
      __mmask16 m = tail_mask16(q.OW - ow0);
      if (rr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, rr + ow0));
      _mm512_mask_storeu_ps(yr + ow0, m, act_vec(acc, ep.act, ep.alpha, ep.beta));
    }
  }
}

void maxpool_plane(const float* x, float* y, const Plane2d& q, float* scratch) {
  Padded p = padded_plane_geometry(q);
  float* P = align64(scratch);
  build_padded_rows(x, q, p, -__builtin_inff(), 0, p.rows, P);
  const bool plain = q.sw == 1 || q.sw == 2;
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  for (int64_t oh = 0; oh < q.OH; ++oh) {
    const float* row0 = P + oh * q.sh * p.row_len;
    if (run_fixed<true>(row0, p, q, nullptr, ninf, nullptr, y + oh * q.OW, nullptr)) continue;
    for (int64_t ow0 = 0; ow0 < q.OW; ow0 += 16) {
      __m512 acc = _mm512_set1_ps(-__builtin_inff());
      for (int64_t kh = 0; kh < q.KH; ++kh) {
        const float* row = row0 + kh * q.dh * p.row_len;
        for (int64_t kw = 0; kw < q.KW; ++kw)
          acc = _mm512_max_ps(acc, load_tap(tap_ptr(row, p, q.sw, ow0, kw * q.dw), q.sw, plain));
      }
      _mm512_mask_storeu_ps(y + oh * q.OW + ow0, tail_mask16(q.OW - ow0), acc);
    }
  }
}

}  // namespace r1::cpu::conv_avx512
