// OneHot on the GPU. CPU reference: cpp/r1/cpu/kernels/one_hot.cc.
//
// Indices on the device (int8 / uint8 / int32 / int64 / float types), depth (input 1)
// and values (input 2) on the host; the output (the dtype of values) is byte-generic.
#include <cstring>

#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"

namespace r1::gpu {
namespace {

template <class I, class U>
__global__ void one_hot_fill(const typename I::storage* ind, U* y, int64_t n, int64_t depth, int64_t inner, U off,
                             U on) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t in = i % inner, rest = i / inner;
    const int64_t kk = rest % depth, o = rest / depth;
    const auto raw = I::load(ind[o * inner + in]);
    int64_t v;
    if constexpr (std::is_integral_v<decltype(raw)>) {
      v = static_cast<int64_t>(raw);
    } else {  // truncates like the CPU's cast; NaN / huge values select nothing
      v = (raw > -9.0e18f && raw < 9.0e18f) ? static_cast<int64_t>(raw) : depth;
    }
    if (v < 0) v += depth;
    y[i] = v == kk ? on : off;
  }
}

bool one_hot_index_type(DType t) {
  return dtype_in(
      t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8, DType::Int32, DType::Int64});
}

bool one_hot_supported(const Node& n) {
  return !n.inputs.empty() && n.inputs[0] && one_hot_index_type(n.inputs[0]->dtype);
}

void one_hot(KernelContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& dt = ctx.input(1);
  const Tensor& vals = ctx.input(2);
  R1_CHECK(vals.numel() == 2, InputError) << "OneHot: values must hold 2 elements";
  R1_CHECK(dt.numel() == 1, InputError) << "OneHot: depth must be a scalar";
  const int64_t depth = static_cast<int64_t>(dt.scalar_as_double(0));
  R1_CHECK(depth > 0, InputError) << "OneHot: depth must be positive, got " << depth;
  const int r = ind.rank() + 1;
  const int ax = normalize_axis(ctx.attrs().get_int("axis", -1), r, "OneHot axis");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= ind.shape()[i];
  for (int i = ax; i < ind.rank(); ++i) inner *= ind.shape()[i];
  Tensor& y = ctx.output(0);
  R1_CHECK(y.dtype() == vals.dtype(), InternalError) << "OneHot: output dtype differs from values";
  const int64_t n = outer * depth * inner;
  R1_CHECK(y.numel() == n, InternalError) << "OneHot: output has " << y.numel() << " elements, expected " << n;
  if (n == 0) return;
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(vals.dtype()), [&](auto utag) {
    using U = decltype(utag);
    U off, on;
    std::memcpy(&off, vals.raw(), sizeof(U));
    std::memcpy(&on, static_cast<const char*>(vals.raw()) + sizeof(U), sizeof(U));
    auto run = [&](auto itag) {
      using I = decltype(itag);
      one_hot_fill<I, U><<<blocks_for(n), kThreads, 0, env.stream()>>>(data_of<I>(ind), static_cast<U*>(y.raw()), n,
                                                                       depth, inner, off, on);
      R1_GPU_CHECK_LAUNCH();
    };
    switch (ind.dtype()) {
      case DType::Float32:
        run(F32{});
        return;
      case DType::Float16:
        run(F16{});
        return;
      case DType::BFloat16:
        run(BF16{});
        return;
      case DType::Int8:
        run(IntT<int8_t>{});
        return;
      case DType::UInt8:
        run(IntT<uint8_t>{});
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
    R1_THROW(InputError) << "OneHot on " R1_GPU_BACKEND_NAME " does not support indices of " << dtype_name(ind.dtype());
  });
}

}  // namespace

void register_one_hot_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1, kIn2 = 1u << 2;
  t.add("OneHot", one_hot, "", kIn1 | kIn2, one_hot_supported);
}
}  // namespace r1::gpu
