// BatchNormalization (inference) on the GPU (float32 / float16 / bfloat16): per-channel coefficients in
// double, then y = x * a[c] + b[c]. CPU reference: cpp/r1/cpu/kernels/batchnorm.cc.
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

bool float_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Loads element i of a float tensor of any float dtype (the parameters may differ from X's dtype).
__device__ __forceinline__ float load_float_any(const void* p, int dtype_code, int64_t i) {
  switch (dtype_code) {
    case 1:
      return F16::load(static_cast<const uint16_t*>(p)[i]);
    case 2:
      return BF16::load(static_cast<const uint16_t*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

struct BnParams {
  const void* p[4];  // scale, bias, mean, var
  int code[4];       // 0 float32, 1 float16, 2 bfloat16
};

// ab[c] = scale * inv, ab[C + c] = bias - mean * scale * inv with inv = 1 / sqrt(var + eps) in double,
// as the CPU kernel.
__global__ void bn_coefficients_kernel(BnParams prm, float* ab, int64_t C, float eps) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C; c += int64_t{gridDim.x} * blockDim.x) {
    const float sc = load_float_any(prm.p[0], prm.code[0], c);
    const float bi = load_float_any(prm.p[1], prm.code[1], c);
    const float mu = load_float_any(prm.p[2], prm.code[2], c);
    const float va = load_float_any(prm.p[3], prm.code[3], c);
    const double inv = 1.0 / sqrt(static_cast<double>(va) + static_cast<double>(eps));
    ab[c] = static_cast<float>(sc * inv);
    ab[C + c] = static_cast<float>(bi - mu * sc * inv);
  }
}

template <class T>
__global__ void bn_apply_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                const float* __restrict__ ab, int64_t n, int64_t C, int64_t S) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / S) % C;
    y[i] = T::store(T::load(x[i]) * ab[c] + ab[C + c]);
  }
}

int float_code(DType t) { return t == DType::Float16 ? 1 : (t == DType::BFloat16 ? 2 : 0); }

bool batchnorm_supports(const Node& n) {
  if (n.inputs.size() != 5) return false;
  for (const Value* v : n.inputs)
    if (!v || !float_dtype(v->dtype)) return false;
  if (n.outputs.empty() || !n.outputs[0] || n.outputs[0]->dtype != n.inputs[0]->dtype) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i]) return false;  // training outputs (running mean / var): not supported
  if (n.opset >= 14 && n.attrs.get_int("training_mode", 0) != 0) return false;
  if (n.opset < 9 && n.attrs.get_int("spatial", 1) != 1) return false;
  return true;
}

void batchnorm(KernelContext& ctx) {
  const std::string label = ctx.node().label();
  if (ctx.opset() >= 14)
    R1_CHECK(ctx.attrs().get_int("training_mode", 0) == 0, ModelError)
        << "node " << label << ": BatchNormalization training_mode=1 is not supported (inference only)";
  if (ctx.opset() < 9)
    R1_CHECK(ctx.attrs().get_int("spatial", 1) == 1, ModelError)
        << "node " << label << ": BatchNormalization spatial=0 is not supported";
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    R1_CHECK(!ctx.has_output(i), ModelError)
        << "node " << label << ": BatchNormalization training outputs (running mean/var) are not supported on "
        << R1_GPU_BACKEND_NAME;
  const Tensor& x = ctx.input(0);
  R1_CHECK(x.rank() >= 2, InputError) << "node " << label << ": BatchNormalization needs an input of rank >= 2, got "
                                      << x.describe();
  const int64_t N = x.shape()[0], C = x.shape()[1];
  int64_t S = 1;
  for (int i = 2; i < x.rank(); ++i) S *= x.shape()[i];
  BnParams prm{};
  for (int i = 1; i < 5; ++i) {
    R1_CHECK(ctx.has_input(i), InputError) << "node " << label << ": BatchNormalization needs 5 inputs";
    const Tensor& t = ctx.input(i);
    R1_CHECK(float_dtype(t.dtype()), InputError) << "node " << label << ": BatchNormalization parameter " << i << " is "
                                                 << dtype_name(t.dtype()) << ", expected a float dtype";
    R1_CHECK(t.numel() == C, InputError) << "node " << label << ": BatchNormalization parameter " << i << " has "
                                         << t.numel() << " elements, expected " << C;
    prm.p[i - 1] = t.raw();
    prm.code[i - 1] = float_code(t.dtype());
  }
  Tensor& y = ctx.output(0);
  const float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const int64_t n = N * C * S;
  if (n == 0 || y.numel() == 0) return;
  KernelLaunch env(ctx);
  std::shared_ptr<Buffer> ab_buf = ctx.allocator().allocate(static_cast<size_t>(2 * C) * sizeof(float));
  float* ab = static_cast<float*>(ab_buf->data());
  bn_coefficients_kernel<<<blocks_for(C), kThreads, 0, env.stream()>>>(prm, ab, C, eps);
  R1_GPU_CHECK_LAUNCH();
  dispatch_float_types(x.dtype(), "BatchNormalization", [&](auto tag) {
    using T = decltype(tag);
    bn_apply_kernel<T><<<blocks_for(n), kThreads, 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), ab, n, C, S);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_batchnorm_kernels(KernelTable& t) { t.add("BatchNormalization", batchnorm, "", 0, batchnorm_supports); }
}  // namespace r1::gpu
