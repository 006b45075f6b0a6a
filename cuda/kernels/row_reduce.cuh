// Warp- and block-wide reductions for row kernels (softmax, LayerNorm). Written for any warp
// width: WARP_SIZE is 32 on NVIDIA and 64 on gfx90a, so the shuffle ladder and the number of
// per-warp partials follow it. Block sizes must be multiples of WARP_SIZE (row_threads()).
//
//   __shared__ float scratch[kMaxWarps];
//   float total = block_reduce(v, Sum{}, scratch);   // every thread gets the result
#pragma once
#include "../vendor.h"

namespace r1::gpu {

constexpr int kMaxRowThreads = 1024;
constexpr int kMaxWarps = kMaxRowThreads / WARP_SIZE;

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};

template <class Op>
__device__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int offset = WARP_SIZE / 2; offset > 0; offset /= 2) v = op(v, R1_SHFL_XOR(v, offset));
  return v;
}

// Reduces v over the block; `scratch` holds kMaxWarps floats of shared memory. The trailing
// barrier lets the caller reuse scratch for the next reduction.
template <class Op>
__device__ float block_reduce(float v, Op op, float* scratch) {
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int warps = blockDim.x / WARP_SIZE;
  v = warp_reduce(v, op);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < warps; ++w) r = op(r, scratch[w]);
  __syncthreads();
  return r;
}

// Threads per row: enough whole warps to cover n once, at most 256 (more rows then run side by
// side; long rows loop).
inline int row_threads(int64_t n) {
  int64_t t = (n + WARP_SIZE - 1) / WARP_SIZE * WARP_SIZE;
  return static_cast<int>(t < WARP_SIZE ? WARP_SIZE : (t > 256 ? 256 : t));
}

}  // namespace r1::gpu
