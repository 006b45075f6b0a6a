// ConstantOfShape on the GPU: a fill kernel writing the value's bit pattern, any dtype (the shape is a
// host input). CPU reference: cpp/r1/cpu/kernels/constant_of_shape.cc.
#include <cstring>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

template <class U>
__global__ void fill_value(U* y, int64_t n, U v) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = v;
}

void constant_of_shape(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const Tensor* v = ctx.attrs().get_tensor("value");
  if (v) {
    R1_CHECK(v->numel() == 1, ModelError) << "ConstantOfShape: value must hold one element";
    R1_CHECK(dtype_size(v->dtype()) == dtype_size(y.dtype()), InternalError)
        << "ConstantOfShape: output dtype differs from value";
  }
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(y.dtype()), [&](auto tag) {
    using U = decltype(tag);
    U val = 0;
    if (v) std::memcpy(&val, v->raw(), sizeof(U));
    fill_value<U><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(static_cast<U*>(y.raw()), y.numel(), val);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_constant_of_shape_kernels(KernelTable& t) {
  constexpr uint32_t kIn0 = 1u << 0;
  t.add("ConstantOfShape", constant_of_shape, "", kIn0, supports_any_dtype);
}
}  // namespace r1::gpu
