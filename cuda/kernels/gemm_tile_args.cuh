// The arguments of the tiled GEMM (gemm_tile.cuh) and what every path shares: batch / addend index
// walks, the FusedMatMul activations and the epilogue store.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../common.cuh"
#include "types.cuh"

#if !defined(R1_HIP)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif

namespace r1::gpu::gemm {

constexpr int kMaxWalkRank = 8;

// Activations of r1::FusedMatMul, as the CPU kernel (cpu/gemm/epilogue.cc) names them.
enum class Act : int32_t { None, Relu, Gelu, GeluTanh, Sigmoid, Silu, Tanh, HardSigmoid, HardSwish, Clip, LeakyRelu };

// An index i decomposed over dims (the last fastest) into two offsets: sum of c_d * s0[d] and of
// c_d * s1[d]. rank 0: both offsets 0.
struct IndexWalk {
  int rank = 0;
  int64_t dims[kMaxWalkRank] = {};
  int64_t s0[kMaxWalkRank] = {};
  int64_t s1[kMaxWalkRank] = {};
};

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  int64_t a_rs = 0, a_cs = 0;  // A(m, k) at a[m * a_rs + k * a_cs]
  int64_t b_rs = 0, b_cs = 0;  // B(k, n) at b[k * b_rs + n * b_cs]
  int64_t batch = 1;           // product i writes y + i * M * N
  IndexWalk batch_walk;        // i -> (offset of A, offset of B) in elements
  float alpha = 1.f;
  float add_scale = 1.f;  // addend(m, n) at add[row offset(m) + n * add_cs]
  int64_t add_cs = 0;
  IndexWalk add_walk;  // m -> row offset of the addend (s0)
  Act act = Act::None;
  float act_alpha = 0.f, act_beta = 0.f;
};

template <class T>
struct GemmPtrs {
  const typename T::storage* a = nullptr;
  const typename T::storage* b = nullptr;
  const typename T::storage* bias = nullptr;  // [N] or null
  const typename T::storage* add = nullptr;   // addend or null
  typename T::storage* y = nullptr;
};

__device__ inline void walk_offsets(const IndexWalk& w, int64_t i, int64_t* o0, int64_t* o1) {
  int64_t x = 0, z = 0;
#pragma unroll
  for (int d = kMaxWalkRank - 1; d >= 0; --d) {
    if (d >= w.rank) continue;
    const int64_t q = i / w.dims[d];
    const int64_t c = i - q * w.dims[d];
    i = q;
    x += c * w.s0[d];
    z += c * w.s1[d];
  }
  *o0 = x;
  *o1 = z;
}

__device__ inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ inline float activate(float x, Act act, float pa, float pb) {
  switch (act) {
    case Act::None:
      return x;
    case Act::Relu:
      return x < 0.f ? 0.f : x;
    // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): no cancellation for negative x.
    case Act::Gelu:
      return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case Act::GeluTanh:
      return x / (1.f + expf(-1.5957691216057308f * (x + 0.044715f * x * x * x)));
    case Act::Sigmoid:
      return 1.f / (1.f + expf(-x));
    case Act::Silu:
      return x / (1.f + expf(-x));
    case Act::Tanh:
      return tanhf(x);
    case Act::HardSigmoid:
      return fminf(1.f, fmaxf(0.f, pa * x + pb));
    case Act::HardSwish:
      return x * fminf(1.f, fmaxf(0.f, x * (1.f / 6.f) + 0.5f));
    case Act::Clip:
      return x < pa ? pa : (x > pb ? pb : x);
    case Act::LeakyRelu:
      return x < 0.f ? x * pa : x;
  }
  return x;
}

// Writes Y(m, n) of one product (y at the product's first element).
template <class T>
__device__ inline void epilogue_store(const GemmArgs& p, const GemmPtrs<T>& q, typename T::storage* y, int64_t m,
                                      int64_t n, float acc) {
  float v = p.alpha * acc;
  if (q.bias) v += T::load(q.bias[n]);
  if (q.add) {
    int64_t ro, unused;
    walk_offsets(p.add_walk, m, &ro, &unused);
    v += p.add_scale * T::load(q.add[ro + n * p.add_cs]);
  }
  y[m * p.N + n] = T::store(activate(v, p.act, p.act_alpha, p.act_beta));
}

}  // namespace r1::gpu::gemm
