// Softmax and LogSoftmax along one axis (float32 / float16 / bfloat16), one block per row.
// A row is `n` elements `inner` apart: opset >= 13 reduces over one axis (inner = product of
// the dims after it); before 13 the input is coerced to 2-D at `axis` (inner = 1). Accumulates
// in float; reads the row three times (max, sum of exponentials, write), which keeps the kernel
// simple while rows fit in L2.
#include "elementwise.cuh"
#include "families.h"
#include "row_reduce.cuh"

namespace r1::gpu {
namespace {

template <class T, bool kLog>
__global__ void softmax_rows(const typename T::storage* x, typename T::storage* y, int64_t rows, int64_t n,
                             int64_t inner) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = (row / inner) * n * inner + row % inner;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, T::load(x[base + j * inner]));
    m = block_reduce(m, MaxOp{}, scratch);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += expf(T::load(x[base + j * inner]) - m);
    s = block_reduce(s, SumOp{}, scratch);
    const float log_s = logf(s), inv_s = 1.0f / s;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      float v = T::load(x[base + j * inner]) - m;
      y[base + j * inner] = T::store(kLog ? v - log_s : expf(v) * inv_s);
    }
  }
}

template <bool kLog>
void softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.numel() == 0) return;
  const int rank = x.rank();
  const bool legacy = ctx.opset() < 13;
  const int axis = normalize_axis(ctx.attrs().get_int("axis", legacy ? 1 : -1), rank == 0 ? 1 : rank);
  int64_t n = 1, inner = 1;
  if (rank > 0) {
    n = x.shape()[axis];
    for (int d = axis + 1; d < rank; ++d) (legacy ? n : inner) *= x.shape()[d];
  }
  const int64_t rows = x.numel() / n;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    unsigned grid = static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20));
    softmax_rows<T, kLog><<<grid, row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), rows, n, inner);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_softmax_kernels(KernelTable& t) {
  t.add("Softmax", softmax<false>);
  t.add("LogSoftmax", softmax<true>);
}
}  // namespace r1::gpu
