// Quantization ops on the GPU, so that a quantized model's Q/DQ nodes run where their neighbours run instead of
// sending each activation to the CPU and back: QuantizeLinear and DequantizeLinear (a float32 scale per tensor or
// per axis; int8 / uint8 integers; blocked scales stay on the CPU), r1::QuantDequant (a Q -> DQ pair in one pass)
// and r1::GatherDequant (rows of an int8 embedding table times their scales). Rounding is half to even (rintf),
// saturation as ONNX defines it, the same formulas as the CPU kernels (cpp/r1/cpu/kernels/quantize.cc). Scales
// and zero points are read on the device. Out-of-range GatherDequant indices give zero rows (a kernel cannot
// raise; the CPU kernel raises InputError), as the GPU Gather does.
#include <cstdint>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// Where element i finds its scale: 0 per tensor, (i / inner) % len per axis.
struct AxisIndex {
  int64_t len = 1, inner = 1;
  bool per_axis = false;
  __device__ int64_t operator()(int64_t i) const { return per_axis ? (i / inner) % len : 0; }
};

AxisIndex axis_index(const KernelContext& ctx, const Tensor& x, const Tensor& scale) {
  AxisIndex p;
  if (scale.numel() == 1 && scale.rank() <= 1) return p;
  const int axis = normalize_axis(ctx.attrs().get_int("axis", 1), x.rank(), "axis");
  p.len = x.shape()[axis];
  for (int i = axis + 1; i < x.rank(); ++i) p.inner *= x.shape()[i];
  R1_CHECK(scale.rank() == 1 && scale.numel() == p.len, InputError)
      << ctx.node().op_type << ": a per-axis scale needs " << p.len << " values, got " << scale.describe();
  p.per_axis = true;
  return p;
}

template <class Q>
__device__ Q saturate(float v) {
  const float lo = Q(-1) < Q(0) ? -128.f : 0.f, hi = Q(-1) < Q(0) ? 127.f : 255.f;
  return static_cast<Q>(fminf(fmaxf(v, lo), hi));
}

template <class T, class Q>
__global__ void quantize_kernel(const typename T::storage* x, const float* scale, const Q* zp, Q* y, int64_t n,
                                AxisIndex ax) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = ax(i);
    const float z = zp ? static_cast<float>(zp[k]) : 0.f;
    y[i] = saturate<Q>(rintf(T::load(x[i]) / scale[k]) + z);
  }
}

template <class Q, class T>
__global__ void dequantize_kernel(const Q* x, const float* scale, const Q* zp, typename T::storage* y, int64_t n,
                                  AxisIndex ax) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = ax(i);
    const int32_t z = zp ? static_cast<int32_t>(zp[k]) : 0;
    y[i] = T::store(static_cast<float>(static_cast<int32_t>(x[i]) - z) * scale[k]);
  }
}

template <class T>
__global__ void quant_dequant_kernel(const typename T::storage* x, typename T::storage* y, int64_t n, float scale,
                                     float zero, float qmin, float qmax) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float q = fminf(qmax, fmaxf(qmin, rintf(T::load(x[i]) / scale) + zero));
    y[i] = T::store((q - zero) * scale);
  }
}

template <class I>
__global__ void gather_dequant_kernel(const int8_t* table, const float* scales, const I* idx, float* y, int64_t n,
                                      int64_t rows, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = t / inner, j = t - i * inner;
    int64_t v = static_cast<int64_t>(idx[i]);
    if (v < 0) v += rows;
    y[t] = v >= 0 && v < rows ? static_cast<float>(table[v * inner + j]) * scales[v] : 0.f;
  }
}

// Calls f(Q{}) for int8 / uint8.
template <class F>
void dispatch_q(DType t, const char* op, F&& f) {
  if (t == DType::Int8) return f(int8_t{});
  if (t == DType::UInt8) return f(uint8_t{});
  R1_THROW(InputError) << op << " on " R1_GPU_BACKEND_NAME " takes int8 or uint8 integers, got " << dtype_name(t);
}

const void* zero_point(const KernelContext& ctx, const Tensor& scale, DType q) {
  if (!ctx.has_input(2) || ctx.input(2).numel() == 0) return nullptr;
  const Tensor& zp = ctx.input(2);
  R1_CHECK(zp.numel() == scale.numel() && zp.dtype() == q, InputError)
      << ctx.node().op_type << ": zero point " << zp.describe() << " must match the scale's size and the integer type";
  return zp.raw();
}

void quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const AxisIndex ax = axis_index(ctx, x, scale);
  const void* zp = zero_point(ctx, scale, y.dtype());
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "QuantizeLinear", [&](auto tag) {
    using T = decltype(tag);
    dispatch_q(y.dtype(), "QuantizeLinear", [&](auto qtag) {
      using Q = decltype(qtag);
      quantize_kernel<T, Q><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(
          data_of<T>(x), scale.data<float>(), static_cast<const Q*>(zp), y.data<Q>(), y.numel(), ax);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

void dequantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const AxisIndex ax = axis_index(ctx, x, scale);
  const void* zp = zero_point(ctx, scale, x.dtype());
  KernelLaunch env(ctx);
  dispatch_q(x.dtype(), "DequantizeLinear", [&](auto qtag) {
    using Q = decltype(qtag);
    dispatch_float_types(y.dtype(), "DequantizeLinear", [&](auto tag) {
      using T = decltype(tag);
      dequantize_kernel<Q, T><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(
          x.data<Q>(), scale.data<float>(), static_cast<const Q*>(zp), data_of<T>(y), y.numel(), ax);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

void quant_dequant(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const AttributeMap& at = ctx.attrs();
  const float scale = at.get_float("scale", 1.f), zero = static_cast<float>(at.get_int("zero_point", 0));
  const float qmin = static_cast<float>(at.get_int("qmin", 0)), qmax = static_cast<float>(at.get_int("qmax", 255));
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "QuantDequant", [&](auto tag) {
    using T = decltype(tag);
    quant_dequant_kernel<T><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(data_of<T>(x), data_of<T>(y),
                                                                                  y.numel(), scale, zero, qmin, qmax);
    R1_GPU_CHECK_LAUNCH();
  });
}

void gather_dequant(KernelContext& ctx) {
  const Tensor& table = ctx.input(0);
  const Tensor& scales = ctx.input(1);
  const Tensor& idx = ctx.input(2);
  Tensor& y = ctx.output(0);
  const int64_t rows = table.rank() > 0 ? table.dim(0) : 0;
  const int64_t inner = rows > 0 ? table.numel() / rows : 0;
  R1_CHECK(scales.numel() == rows, InputError)
      << "GatherDequant: " << scales.numel() << " scales for " << rows << " rows";
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  auto launch = [&](auto itag) {
    using I = decltype(itag);
    gather_dequant_kernel<I><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(
        table.data<int8_t>(), scales.data<float>(), idx.data<I>(), y.data<float>(), y.numel(), rows, inner);
    R1_GPU_CHECK_LAUNCH();
  };
  if (idx.dtype() == DType::Int64)
    launch(int64_t{});
  else
    launch(int32_t{});
}

bool int8_or_uint8(const Value* v) { return v && (v->dtype == DType::Int8 || v->dtype == DType::UInt8); }
bool float32_scale(const Node& n) { return n.inputs.size() > 1 && n.inputs[1] && n.inputs[1]->dtype == DType::Float32; }

// Per tensor or per axis, float32 scales, 8-bit integers: blocked scales and 16/32-bit integers run on the CPU.
bool quantize_supported(const Node& n) {
  return float32_scale(n) && n.attrs.get_int("block_size", 0) == 0 && !n.outputs.empty() &&
         int8_or_uint8(n.outputs[0]) && n.inputs[0] && is_float(n.inputs[0]->dtype);
}
bool dequantize_supported(const Node& n) {
  return float32_scale(n) && n.attrs.get_int("block_size", 0) == 0 && !n.inputs.empty() && int8_or_uint8(n.inputs[0]) &&
         !n.outputs.empty() && n.outputs[0] && is_float(n.outputs[0]->dtype);
}
bool gather_dequant_supported(const Node& n) {
  return n.inputs.size() > 2 && n.inputs[2] &&
         (n.inputs[2]->dtype == DType::Int32 || n.inputs[2]->dtype == DType::Int64);
}

}  // namespace

void register_quantize_kernels(KernelTable& t) {
  t.add("QuantizeLinear", quantize_linear, "", 0, quantize_supported);
  t.add("DequantizeLinear", dequantize_linear, "", 0, dequantize_supported);
  t.add("QuantDequant", quant_dequant, "r1", 0, supports_any_dtype);
  t.add("GatherDequant", gather_dequant, "r1", 0, gather_dequant_supported);
}
}  // namespace r1::gpu
