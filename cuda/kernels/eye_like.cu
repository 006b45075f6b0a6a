// EyeLike on the GPU: a fill kernel writing the bit pattern of 1 on the diagonal k and 0 elsewhere, any
// dtype; input 0 stays on the device (only its shape is read). CPU reference: cpp/r1/cpu/kernels/eye_like.cc.
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

template <class U>
__global__ void eye_fill(U* y, int64_t n, int64_t M, int64_t k, U one) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / M, col = i - row * M;
    y[i] = col - row == k ? one : U(0);
  }
}

// The bit pattern of 1 in dtype t (0 is all zero bits in every dtype).
uint64_t one_bits(DType t) {
  switch (t) {
    case DType::Float32:
      return 0x3f800000u;
    case DType::Float16:
      return 0x3c00u;
    case DType::BFloat16:
      return 0x3f80u;
    case DType::Int8:
    case DType::UInt8:
    case DType::Int32:
    case DType::Int64:
    case DType::Bool:
      return 1u;
    default:
      break;
  }
  R1_THROW(InputError) << "EyeLike on " R1_GPU_BACKEND_NAME " does not support " << dtype_name(t);
  return 0;
}

void eye_like(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  R1_CHECK(y.rank() == 2, InputError) << "EyeLike: input must be 2-D, got rank " << y.rank();
  if (y.numel() == 0) return;
  const int64_t k = ctx.attrs().get_int("k", 0);
  const uint64_t one = one_bits(y.dtype());
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(y.dtype()), [&](auto tag) {
    using U = decltype(tag);
    eye_fill<U><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(static_cast<U*>(y.raw()), y.numel(), y.shape()[1],
                                                                      k, static_cast<U>(one));
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_eye_like_kernels(KernelTable& t) {
  t.add("EyeLike", eye_like, "", 0, supports_any_dtype);  // input 0: only its shape is read
}
}  // namespace r1::gpu
