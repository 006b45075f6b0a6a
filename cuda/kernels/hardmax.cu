// Hardmax on the GPU (float types). CPU reference: cpp/r1/cpu/kernels/hardmax.cc.
//
// One block per row; each thread keeps the first maximum of its strided slice, a shared-memory tree
// picks the largest value, ties to the lower index (NaN never wins; a row with no value above -inf marks
// index 0, like the CPU).
#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"

namespace r1::gpu {
namespace {

// A power-of-two block size between WARP_SIZE and `cap` covering n if it can.
inline int pow2_threads(int64_t n, int cap) {
  int t = WARP_SIZE;
  while (t < n && t < cap) t *= 2;
  return t;
}

constexpr int kHardmaxThreads = 256;
constexpr int64_t kNoIndex = -1;

template <class T>
__global__ void hardmax_rows(const typename T::storage* x, typename T::storage* y, int64_t rows, int64_t L,
                             int64_t inner) {
  __shared__ float sv[kHardmaxThreads];
  __shared__ int64_t si[kHardmaxThreads];
  const typename T::storage one = T::store(1.0f), zero = T::store(0.0f);
  const int tid = threadIdx.x;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = (row / inner) * L * inner + row % inner;
    float best = -INFINITY;
    int64_t bi = kNoIndex;
    for (int64_t j = tid; j < L; j += blockDim.x) {
      const float v = T::load(x[base + j * inner]);
      if (v > best) {  // first maximum of this thread's slice; NaN and -inf never qualify
        best = v;
        bi = j;
      }
    }
    sv[tid] = best;
    si[tid] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s) {
        const float ov = sv[tid + s];
        const int64_t oi = si[tid + s];
        const int64_t mi = si[tid];
        if (oi != kNoIndex && (mi == kNoIndex || ov > sv[tid] || (ov == sv[tid] && oi < mi))) {
          sv[tid] = ov;
          si[tid] = oi;
        }
      }
      __syncthreads();
    }
    const int64_t win = si[0] == kNoIndex ? 0 : si[0];
    for (int64_t j = tid; j < L; j += blockDim.x) y[base + j * inner] = j == win ? one : zero;
    __syncthreads();  // si[0] is read above before the next row overwrites it
  }
}

void hardmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const Shape& s = x.shape();
  const bool legacy = ctx.opset() < 13;
  int64_t L = 1, inner = 1;
  if (rank > 0) {  // a scalar is one row of one element
    const int axis = normalize_axis(ctx.attrs().get_int("axis", legacy ? 1 : -1), rank, "Hardmax axis");
    L = s[axis];
    for (int d = axis + 1; d < rank; ++d) (legacy ? L : inner) *= s[d];
  }
  if (x.numel() == 0) return;
  const int64_t rows = x.numel() / L;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "Hardmax", [&](auto tag) {
    using T = decltype(tag);
    hardmax_rows<T><<<grid_for_rows(rows), pow2_threads(L, kHardmaxThreads), 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(y), rows, L, inner);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_hardmax_kernels(KernelTable& t) {
  t.add("Hardmax", hardmax);  // float types (the default predicate)
}
}  // namespace r1::gpu
