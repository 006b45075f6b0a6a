// TopK on the GPU (float types). CPU reference: cpp/r1/cpu/kernels/topk.cc.
//
// One block per row sorts (value, index) pairs with a bitonic network,
// in shared memory for rows up to kTopKSharedMax elements, else in a global scratch buffer
// (slower). Order: larger (largest=1) or smaller value first, equal values by lower index;
// NaN counts as larger than any number. `sorted` is ignored: the output is always sorted.
#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"

namespace r1::gpu {
namespace {

constexpr int kTopKSharedMax = 4096;  // P * (4 + 4) bytes = 32 KiB of shared memory at most
constexpr int kTopKThreads = 512;
constexpr int64_t kTopKScratchBytes = int64_t{256} << 20;  // global path: scratch for all blocks

// Whether entry a comes before entry b in the output. Entries at index >= L are padding: last.
__device__ bool topk_before(float av, int ai, float bv, int bi, bool largest, int L) {
  if (ai >= L || bi >= L) return ai < bi;
  const bool an = av != av, bn = bv != bv;
  if (an || bn) {
    if (an && bn) return ai < bi;
    return largest ? an : bn;  // NaN is the largest value
  }
  if (av != bv) return largest ? av > bv : av < bv;
  return ai < bi;
}

// Sorts P (a power of two) entries in `before` order; the whole block takes part.
__device__ void bitonic_sort(float* kv, int* ki, int P, int L, bool largest) {
  for (int64_t k = 2; k <= P; k <<= 1) {  // 64-bit: P may be 2^30, and k reaches 2P
    for (int j = static_cast<int>(k >> 1); j > 0; j >>= 1) {
      for (int t = threadIdx.x; t < P; t += blockDim.x) {
        const int p = t ^ j;
        if (p > t) {
          const float tv = kv[t], pv = kv[p];
          const int ti = ki[t], pi = ki[p];
          const bool up = (t & k) == 0;
          const bool swap = up ? topk_before(pv, pi, tv, ti, largest, L) : topk_before(tv, ti, pv, pi, largest, L);
          if (swap) {
            kv[t] = pv;
            kv[p] = tv;
            ki[t] = pi;
            ki[p] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
}

// One block per row (grid-stride). gkv / gki: per-block scratch of P entries in global memory, or
// nullptr to sort in dynamic shared memory.
template <class T>
__global__ void topk_rows(const typename T::storage* x, typename T::storage* vals, int64_t* idx, int64_t rows,
                          int64_t L, int64_t inner, int64_t k, int P, bool largest, float* gkv, int* gki) {
  extern __shared__ float topk_smem[];
  float* kv = gkv ? gkv + blockIdx.x * int64_t{P} : topk_smem;
  int* ki = gkv ? gki + blockIdx.x * int64_t{P} : reinterpret_cast<int*>(topk_smem + P);
  const int Li = static_cast<int>(L);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t o = row / inner, i = row % inner;
    const int64_t base = o * L * inner + i;
    for (int t = threadIdx.x; t < P; t += blockDim.x) {
      kv[t] = t < Li ? T::load(x[base + t * inner]) : 0.0f;
      ki[t] = t;
    }
    __syncthreads();
    bitonic_sort(kv, ki, P, Li, largest);
    const int64_t obase = o * k * inner + i;
    for (int64_t t = threadIdx.x; t < k; t += blockDim.x) {
      vals[obase + t * inner] = T::store(kv[t]);
      idx[obase + t * inner] = ki[t];
    }
    __syncthreads();  // the next row overwrites kv / ki
  }
}

bool topk_supported(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.size() < 2 || !n.outputs[0] || !n.outputs[1]) return false;
  const DType t = n.inputs[0]->dtype;
  return is_float(t) && n.outputs[0]->dtype == t && n.outputs[1]->dtype == DType::Int64;
}

void topk(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int rank = x.rank();
  const int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  int64_t k = 0;
  if (ctx.opset() < 10) {
    k = ctx.attrs().get_int("k", 0);
  } else {
    R1_CHECK(ctx.has_input(1), ModelError) << "TopK needs the K input from opset 10";
    std::vector<int64_t> kv = ctx.input(1).to_int64_vector();
    R1_CHECK(kv.size() == 1, InputError) << "TopK K must hold one value, got " << kv.size();
    k = kv[0];
  }
  const bool largest = ctx.attrs().get_int("largest", 1) != 0;
  const Shape& s = x.shape();
  R1_CHECK(k >= 0 && k <= s[axis], InputError) << "TopK k=" << k << " out of range for axis length " << s[axis];
  Shape os = s;
  os[axis] = k;
  Tensor& v = ctx.allocate_output(0, os, x.dtype());
  Tensor& ix = ctx.allocate_output(1, os, DType::Int64);
  if (v.numel() == 0) return;
  const int64_t L = s[axis];
  R1_CHECK(L <= (int64_t{1} << 30), InputError)
      << "TopK on " R1_GPU_BACKEND_NAME " supports axis lengths up to 2^30, got " << L;
  int64_t inner = 1;
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  const int64_t rows = x.numel() / L;
  int P = 1;
  while (P < L) P <<= 1;
  const int threads = P / 2 < WARP_SIZE ? WARP_SIZE : (P / 2 > kTopKThreads ? kTopKThreads : P / 2);
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "TopK", [&](auto tag) {
    using T = decltype(tag);
    if (P <= kTopKSharedMax) {
      const size_t smem = static_cast<size_t>(P) * (sizeof(float) + sizeof(int));
      topk_rows<T><<<grid_for_rows(rows), threads, smem, env.stream()>>>(
          data_of<T>(x), data_of<T>(v), ix.data<int64_t>(), rows, L, inner, k, P, largest, nullptr, nullptr);
      R1_GPU_CHECK_LAUNCH();
    } else {
      const int64_t per_block = int64_t{P} * static_cast<int64_t>(sizeof(float) + sizeof(int));
      int64_t blocks = kTopKScratchBytes / per_block;
      if (blocks < 1) blocks = 1;
      if (blocks > rows) blocks = rows;
      if (blocks > 65535) blocks = 65535;
      std::shared_ptr<Buffer> scratch = ctx.allocator().allocate(static_cast<size_t>(blocks * per_block));
      float* gkv = static_cast<float*>(scratch->data());
      int* gki = reinterpret_cast<int*>(gkv + blocks * int64_t{P});
      topk_rows<T><<<static_cast<unsigned>(blocks), kTopKThreads, 0, env.stream()>>>(
          data_of<T>(x), data_of<T>(v), ix.data<int64_t>(), rows, L, inner, k, P, largest, gkv, gki);
      R1_GPU_CHECK_LAUNCH();
    }
  });
}

}  // namespace

void register_topk_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1;
  t.add("TopK", topk, "", kIn1, topk_supported);
}
}  // namespace r1::gpu
