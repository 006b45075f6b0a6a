// CumSum on the GPU. CPU reference: cpp/r1/cpu/kernels/cumsum.cc.
//
// Float types accumulate in float; int32 / int64 wrap. One thread per (outer, inner) lane, walking the
// axis in order, so sums are the CPU's, term for term.
#include <type_traits>

#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"

namespace r1::gpu {
namespace {

template <class A>
__device__ A acc_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));  // wraps like the CPU's two's complement
  } else {
    return a + b;
  }
}

template <class T>
__global__ void cumsum_lanes(const typename T::storage* x, typename T::storage* y, int64_t lanes, int64_t A,
                             int64_t inner, bool exclusive, bool reverse) {
  using Acc = decltype(T::load(typename T::storage{}));
  for (int64_t lane = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; lane < lanes;
       lane += int64_t{gridDim.x} * blockDim.x) {
    const int64_t base = (lane / inner) * A * inner + lane % inner;
    Acc acc = Acc(0);
    for (int64_t kk = 0; kk < A; ++kk) {
      const int64_t at = base + (reverse ? A - 1 - kk : kk) * inner;
      const Acc v = T::load(x[at]);
      if (exclusive) {
        y[at] = T::store(acc);
        acc = acc_add(acc, v);
      } else {
        acc = acc_add(acc, v);
        y[at] = T::store(acc);
      }
    }
  }
}

bool cumsum_type(DType t) {
  return dtype_in(t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64});
}

bool cumsum_supported(const Node& n) {
  if (n.inputs.size() < 2 || !n.inputs[0] || n.outputs.empty() || !n.outputs[0]) return false;
  return cumsum_type(n.inputs[0]->dtype) && n.outputs[0]->dtype == n.inputs[0]->dtype;
}

void cumsum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> av = ctx.input(1).to_int64_vector();
  R1_CHECK(av.size() == 1, InputError) << "CumSum: axis must be a scalar";
  const int r = x.rank();
  const int ax = normalize_axis(av[0], r, "CumSum axis");
  const bool exclusive = ctx.attrs().get_int("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().get_int("reverse", 0) != 0;
  int64_t outer = 1, inner = 1;
  const int64_t A = x.shape()[ax];
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  if (y.numel() == 0) return;
  const int64_t lanes = outer * inner;
  KernelLaunch env(ctx);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    cumsum_lanes<T><<<blocks_for(lanes), kThreads, 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), lanes, A, inner,
                                                                      exclusive, reverse);
    R1_GPU_CHECK_LAUNCH();
  };
  switch (x.dtype()) {
    case DType::Float32:
      run(F32{});
      return;
    case DType::Float16:
      run(F16{});
      return;
    case DType::BFloat16:
      run(BF16{});
      return;
    case DType::Int32:
      run(IntT<int32_t>{});
      return;
    case DType::Int64:
      run(IntT<int64_t>{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "CumSum on " R1_GPU_BACKEND_NAME
                       << " supports float32, float16, bfloat16, int32 and int64, got " << dtype_name(x.dtype());
}

}  // namespace

void register_cumsum_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1;
  t.add("CumSum", cumsum, "", kIn1, cumsum_supported);
}
}  // namespace r1::gpu
