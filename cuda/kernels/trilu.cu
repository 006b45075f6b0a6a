// Trilu on the GPU: byte-generic (any dtype); k is a host input.
#include <vector>

#include "copy_util.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

template <class U>
__global__ void trilu_kernel(const U* x, U* y, int64_t n, int64_t rows, int64_t cols, int64_t k, bool upper) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t q = i / cols;
    const int64_t j = i - q * cols;  // column
    const int64_t r = q % rows;      // row within its matrix
    const bool keep = upper ? j - r >= k : j - r <= k;
    y[i] = keep ? x[i] : U(0);
  }
}

void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  R1_CHECK(x.rank() >= 2, InputError) << "Trilu: input must have rank >= 2, got " << shape_str(x.shape());
  if (y.numel() == 0) return;
  int64_t k = 0;
  if (ctx.has_input(1)) {  // host input
    std::vector<int64_t> kv = ctx.input(1).to_int64_vector();
    if (!kv.empty()) k = kv[0];
  }
  const bool upper = ctx.attrs().get_int("upper", 1) != 0;
  const int64_t N = x.shape()[x.rank() - 2], M = x.shape()[x.rank() - 1];
  const int64_t n = x.numel();
  KernelLaunch env(ctx);
  dispatch_bytes(esize(x), [&](auto tag) {
    using U = decltype(tag);
    trilu_kernel<U><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()),
                                                                  static_cast<U*>(y.raw()), n, N, M, k, upper);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_trilu_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1;
  t.add("Trilu", trilu, "", kIn1, supports_any_dtype);
}
}  // namespace r1::gpu
