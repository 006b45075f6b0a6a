// Range on the GPU: float types and int8 / uint8 / int32 / int64 (start, limit and delta are host
// inputs). CPU reference: cpp/r1/cpu/kernels/range.cc.
#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"

namespace r1::gpu {
namespace {

template <class V>
__global__ void range_int(V* y, int64_t n, int64_t start, int64_t delta) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<V>(static_cast<uint64_t>(start) + static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
}

template <class T>
__global__ void range_float(typename T::storage* y, int64_t n, float start, float delta) {
  // start + i * delta in float, rounded per operation (no contraction), as the CPU computes it
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = T::store(__fadd_rn(start, __fmul_rn(static_cast<float>(i), delta)));
}

bool range_type(DType t) {
  return dtype_in(
      t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8, DType::Int32, DType::Int64});
}

bool range_supported(const Node& n) { return !n.outputs.empty() && n.outputs[0] && range_type(n.outputs[0]->dtype); }

void range(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const DType t = y.dtype();
  for (size_t i = 0; i < 3; ++i) {
    R1_CHECK(ctx.input(i).dtype() == t, ModelError) << "Range: start, limit and delta must share a dtype";
    R1_CHECK(ctx.input(i).numel() == 1, InputError) << "Range: start, limit and delta must be scalars";
  }
  const int64_t n = y.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  const unsigned grid = blocks_for(n);
  if (is_integer(t)) {
    const int64_t s = ctx.input(0).to_int64_vector()[0], d = ctx.input(2).to_int64_vector()[0];
    auto run = [&](auto tag) {
      using V = decltype(tag);
      range_int<V><<<grid, kThreads, 0, env.stream()>>>(static_cast<V*>(y.raw()), n, s, d);
      R1_GPU_CHECK_LAUNCH();
    };
    switch (t) {
      case DType::Int8:
        run(int8_t{});
        return;
      case DType::UInt8:
        run(uint8_t{});
        return;
      case DType::Int32:
        run(int32_t{});
        return;
      case DType::Int64:
        run(int64_t{});
        return;
      default:
        break;
    }
  }
  const float s = static_cast<float>(ctx.input(0).scalar_as_double(0));
  const float d = static_cast<float>(ctx.input(2).scalar_as_double(0));
  dispatch_float_types(t, "Range", [&](auto tag) {
    using T = decltype(tag);
    range_float<T><<<grid, kThreads, 0, env.stream()>>>(data_of<T>(y), n, s, d);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_range_kernels(KernelTable& t) {
  constexpr uint32_t kIn0 = 1u << 0, kIn1 = 1u << 1, kIn2 = 1u << 2;
  t.add("Range", range, "", kIn0 | kIn1 | kIn2, range_supported);
}
}  // namespace r1::gpu
