// AVX-512 transforms of the Winograd F(2x2, 3x3) convolution (conv_winograd.cc drives them):
//   U = G g G^T per (output, input) channel pair, V = B^T d B per 4x4 input tile and channel,
//   Y = A^T M A per tile and output channel, with the epilogue (bias, residual, activation) fused.
// The matrices have entries 0, +-1 and 1/2 only, so the rounding error stays that of a direct
// convolution (F(4x4, 3x3) would save more multiplies but its 4s and 8s cost ~2 decimal digits).
// Vectors run over 16 tiles of a tile row (input and output) or 16 channel pairs (weights).
// Raw pointers only: no std templates in this file (CMakeLists.txt says why).
#define R1_CONV_PLAIN_ONLY
#include "r1/cpu/kernels/conv_kernels.h"

#include <immintrin.h>

// GCC 12 reports the undefined passthrough operand of its own unmasked AVX-512 min/max intrinsics as
// "may be used uninitialized" (a false positive in avx512fintrin.h).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace r1::cpu::conv_avx512 {
namespace {

float* align64(float* p) { return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63}); }

// The tile grid as a 4x4, stride-2 "kernel" over the padded input: tile (ty, tx) reads padded rows
// 2ty..2ty+3 and columns 2tx..2tx+3 (even/odd split rows, so each column is a plain load).
Plane2d tile_plane(const Plane2d& q, int64_t TH, int64_t TW) {
  return Plane2d{q.H, q.W, 4, 4, TH, TW, 2, 2, 1, 1, q.ph, q.pw};
}

}  // namespace

int64_t wino_scratch_floats(const Plane2d& q, int64_t TH, int64_t TW, int64_t tile_rows) {
  PaddedPlane p = padded_plane_geometry(tile_plane(q, TH, TW));
  return (2 * tile_rows + 2) * p.row_len + 16;
}

void wino_weights(const float* w, int64_t p0, int64_t p1, int64_t pairs, float* U) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512i lane9 =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(9));
  for (int64_t p = p0; p < p1; p += 16) {
    __mmask16 m = tail_mask16(p1 - p);
    __m512 g[9];
    for (int k = 0; k < 9; ++k)
      g[k] =
          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_add_epi32(lane9, _mm512_set1_epi32(k)), w + p * 9, 4);
    // h = G g (4x3), then U = h G^T (4x4). G rows: (1,0,0) (1/2,1/2,1/2) (1/2,-1/2,1/2) (0,0,1).
    __m512 h[4][3];
    for (int j = 0; j < 3; ++j) {
      __m512 s = _mm512_add_ps(g[j], g[6 + j]);
      h[0][j] = g[j];
      h[1][j] = _mm512_mul_ps(_mm512_add_ps(s, g[3 + j]), half);
      h[2][j] = _mm512_mul_ps(_mm512_sub_ps(s, g[3 + j]), half);
      h[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; ++i) {
      __m512 s = _mm512_add_ps(h[i][0], h[i][2]);
      __m512 u[4] = {h[i][0], _mm512_mul_ps(_mm512_add_ps(s, h[i][1]), half),
                     _mm512_mul_ps(_mm512_sub_ps(s, h[i][1]), half), h[i][2]};
      for (int j = 0; j < 4; ++j) _mm512_mask_storeu_ps(U + (4 * i + j) * pairs + p, m, u[j]);
    }
  }
}

void wino_input(const float* x, int64_t C, int64_t IS, const Plane2d& q, int64_t TH, int64_t TW, int64_t ty0,
                int64_t ty1, float* V, float* scratch) {
  Plane2d tp = tile_plane(q, TH, TW);
  PaddedPlane pp = padded_plane_geometry(tp);
  float* P = align64(scratch);
  const int64_t tb = (ty1 - ty0) * TW;  // tiles in the block: V is [16][C][tb]
  for (int64_t c = 0; c < C; ++c) {
    build_padded_rows(x + c * IS, tp, pp, 0.f, 2 * ty0, 2 * ty1 + 2, P);
    for (int64_t ty = ty0; ty < ty1; ++ty) {
      const float* rows[4];
      for (int r = 0; r < 4; ++r) rows[r] = P + (2 * (ty - ty0) + r) * pp.row_len;
      for (int64_t tx = 0; tx < TW; tx += 16) {
        // d[r][j]: column 2tx + j of tap row r, for 16 tiles: even columns then odd, shifted by j / 2.
        __m512 e[4][4];
        for (int r = 0; r < 4; ++r) {
          __m512 d0 = _mm512_load_ps(rows[r] + tx), d1 = _mm512_load_ps(rows[r] + pp.half + tx);
          __m512 d2 = _mm512_loadu_ps(rows[r] + tx + 1), d3 = _mm512_loadu_ps(rows[r] + pp.half + tx + 1);
          // Row transform d B (B^T rows: (1,0,-1,0) (0,1,1,0) (0,-1,1,0) (0,1,0,-1)).
          e[r][0] = _mm512_sub_ps(d0, d2);
          e[r][1] = _mm512_add_ps(d1, d2);
          e[r][2] = _mm512_sub_ps(d2, d1);
          e[r][3] = _mm512_sub_ps(d1, d3);
        }
        __mmask16 m = tail_mask16(TW - tx);
        float* v = V + c * tb + (ty - ty0) * TW + tx;
        const int64_t xi = C * tb;  // stride between the 16 transformed planes
        for (int j = 0; j < 4; ++j) {
          _mm512_mask_storeu_ps(v + (0 + j) * xi, m, _mm512_sub_ps(e[0][j], e[2][j]));
          _mm512_mask_storeu_ps(v + (4 + j) * xi, m, _mm512_add_ps(e[1][j], e[2][j]));
          _mm512_mask_storeu_ps(v + (8 + j) * xi, m, _mm512_sub_ps(e[2][j], e[1][j]));
          _mm512_mask_storeu_ps(v + (12 + j) * xi, m, _mm512_sub_ps(e[1][j], e[3][j]));
        }
      }
    }
  }
}

void wino_output(const float* Yp, int64_t M, int64_t m0, int64_t m1, int64_t TW, int64_t ty0, int64_t ty1, float* y,
                 int64_t OH, int64_t OW, const float* bias, const float* R, const ConvEpilogue& ep) {
  const int64_t tb = (ty1 - ty0) * TW, xi = M * tb;  // Yp is [16][M][tb]
  const __m512i lo_idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi_idx = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const int64_t OS = OH * OW;
  for (int64_t mo = m0; mo < m1; ++mo) {
    const __m512 vb = _mm512_set1_ps(bias ? bias[mo] : 0.f);
    for (int64_t ty = ty0; ty < ty1; ++ty)
      for (int64_t tx = 0; tx < TW; tx += 16) {
        __mmask16 m = tail_mask16(TW - tx);
        const float* src = Yp + mo * tb + (ty - ty0) * TW + tx;
        __m512 s[4], t[4];  // A^T rows: (1,1,1,0) (0,1,-1,-1)
        for (int j = 0; j < 4; ++j) {
          __m512 a0 = _mm512_maskz_loadu_ps(m, src + (0 + j) * xi), a1 = _mm512_maskz_loadu_ps(m, src + (4 + j) * xi);
          __m512 a2 = _mm512_maskz_loadu_ps(m, src + (8 + j) * xi), a3 = _mm512_maskz_loadu_ps(m, src + (12 + j) * xi);
          s[j] = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
          t[j] = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
        }
        __m512 out[2][2] = {
            {_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3])},
            {_mm512_add_ps(_mm512_add_ps(t[0], t[1]), t[2]), _mm512_sub_ps(_mm512_sub_ps(t[1], t[2]), t[3])}};
        for (int i = 0; i < 2; ++i) {
          int64_t oh = 2 * ty + i;
          if (oh >= OH) break;
          // Interleave the tiles' two output columns: columns 2tx .. 2tx + 31 of output row oh.
          __m512 v[2] = {_mm512_permutex2var_ps(out[i][0], lo_idx, out[i][1]),
                         _mm512_permutex2var_ps(out[i][0], hi_idx, out[i][1])};
          for (int h = 0; h < 2; ++h) {
            int64_t ow = 2 * tx + 16 * h;
            if (ow >= OW) break;
            __mmask16 mk = tail_mask16(OW - ow);
            int64_t off = mo * OS + oh * OW + ow;
            __m512 r = _mm512_add_ps(v[h], vb);
            if (R) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk, R + off));
            _mm512_mask_storeu_ps(y + off, mk, act_vec(r, ep.act, ep.alpha, ep.beta));
          }
        }
      }
  }
}

}  // namespace r1::cpu::conv_avx512
