// The parameters of the GPU attention kernels (attention.cu: SIMT, attention_wmma.cuh: tensor cores) and
// the score and causal-limit helpers both use.
#pragma once
#include <cmath>
#include <cstdint>

#include "elementwise.cuh"

namespace r1::gpu {

constexpr int64_t kMaxHead = 256;  // largest D and Dv the SIMT kernel holds

// dtype code of a tensor read through load_any (the mask may have its own float dtype).
inline int float_kind(DType t) { return t == DType::Float32 ? 0 : t == DType::Float16 ? 1 : 2; }

__device__ __forceinline__ float load_any(const void* p, int kind, int64_t i) {
  if (kind == 0) return static_cast<const float*>(p)[i];
  const uint16_t v = static_cast<const uint16_t*>(p)[i];
  return kind == 1 ? F16::load(v) : BF16::load(v);
}

struct AttnParams {
  const void* q;
  const void* k;
  const void* v;
  const void* mask;  // nullptr: none
  void* o;
  int mask_kind;
  int causal;
  int nan_to_zero;  // NaNs of O written as 0 (attention_fusion's form of Where(IsNaN(P), 0, P))
  float scale;
  int64_t H, Sq, Sk, D, Dv, n_qtiles;
  // Element offsets: operand X of head (b, h) starts at b * x_sb + h * x_sh (0 where broadcast).
  int64_t q_sb, q_sh, q_rs;        // Q[i, d] at i * q_rs + d
  int64_t k_sb, k_sh, k_js, k_ds;  // K[j, d] at j * k_js + d * k_ds (k_transposed: k_js = 1)
  int64_t v_sb, v_sh, v_rs;        // V[j, c] at j * v_rs + c
  int64_t o_sb, o_sh, o_rs;        // O[i, c] at i * o_rs + c
  int64_t m_sb, m_sh, m_rs, m_cs;  // mask over [B, H, Sq, Sk], 0 along broadcast dims
  int vec_q, vec_k, vec_v;         // 16-byte loads are aligned (tensor-core kernel)
};

// A value of O as it is stored.
__device__ __forceinline__ float out_value(const AttnParams& p, float v) { return p.nan_to_zero && isnan(v) ? 0.f : v; }

// The score of query i and key j from the raw dot product: -inf outside the problem or above the
// causal diagonal (query i sees keys j <= i + Sk - Sq), otherwise scale * dot + mask.
__device__ __forceinline__ float masked_score(const AttnParams& p, float dot, int64_t mbase, int64_t i, int64_t j) {
  if (i >= p.Sq || j >= p.Sk) return -INFINITY;
  if (p.causal && j > i + (p.Sk - p.Sq)) return -INFINITY;
  float s = dot * p.scale;
  if (p.mask) s += load_any(p.mask, p.mask_kind, mbase + i * p.m_rs + j * p.m_cs);
  return s;
}

// Keys [0, key_end) that any query of the tile [i0, i1) may see.
__device__ __forceinline__ int64_t tile_key_end(const AttnParams& p, int64_t i1) {
  if (!p.causal) return p.Sk;
  const int64_t e = i1 + (p.Sk - p.Sq);  // the last query i1 - 1 sees keys <= i1 - 1 + Sk - Sq
  return e < 0 ? 0 : (e > p.Sk ? p.Sk : e);
}

}  // namespace r1::gpu
