// CPU kernels of QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul and
// r1::QuantDequant, in float
// with round-half-to-even and saturation as ONNX defines them (reference kernels: the fused int8 paths
// are issue 14's).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "r1/cpu/gemm/batched_matmul.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"
#include "r1/cpu/kernels/quant_dequant.h"
#include "r1/cpu/gemm/gemm.h"

namespace r1::cpu {
namespace {

// Calls f(T{}) for the quantized integer types.
template <class F>
void dispatch_quantized(DType t, F&& f) {
  switch (t) {
    case DType::Int8:
      return f(int8_t{});
    case DType::UInt8:
      return f(uint8_t{});
    case DType::Int16:
      return f(int16_t{});
    case DType::UInt16:
      return f(uint16_t{});
    case DType::Int32:
      return f(int32_t{});
    default:
      R1_THROW(InputError) << "quantized dtype " << dtype_name(t) << " is not supported";
  }
}

template <class Q>
Q saturate(float v) {
  float lo = static_cast<float>(std::numeric_limits<Q>::lowest()),
        hi = static_cast<float>(std::numeric_limits<Q>::max());
  return static_cast<Q>(std::min(std::max(std::nearbyint(v), lo), hi));
}

// Where each element of x finds its scale / zero point: per tensor, per axis, or per block along the axis.
struct ParamIndex {
  int64_t outer = 1, len = 1, inner = 1, block = 0, nblocks = 1;
  enum { Tensor_, Axis, Block } mode = Tensor_;
  int64_t operator()(int64_t i) const {
    if (mode == Tensor_) return 0;
    int64_t a = (i / inner) % len;
    if (mode == Axis) return a;
    int64_t o = i / (inner * len);
    return (o * nblocks + a / block) * inner + i % inner;
  }
};

ParamIndex param_index(const KernelContext& ctx, const Tensor& x, const Tensor& scale) {
  ParamIndex p;
  if (scale.numel() == 1 && scale.rank() <= 1) return p;
  int axis = normalize_axis(ctx.attrs().get_int("axis", 1), x.rank(), "axis");
  const Shape& s = x.shape();
  for (int i = 0; i < axis; ++i) p.outer *= s[i];
  p.len = s[axis];
  for (int i = axis + 1; i < x.rank(); ++i) p.inner *= s[i];
  p.block = ctx.attrs().get_int("block_size", 0);
  if (p.block <= 0) {
    R1_CHECK(scale.rank() == 1 && scale.numel() == p.len, InputError)
        << ctx.node().op_type << ": a per-axis scale needs " << p.len << " values, got " << scale.describe();
    p.mode = ParamIndex::Axis;
    return p;
  }
  p.nblocks = (p.len + p.block - 1) / p.block;
  Shape want = s;
  want[axis] = p.nblocks;
  R1_CHECK(scale.shape() == want, InputError)
      << ctx.node().op_type << ": a blocked scale must be " << shape_str(want) << ", got " << scale.describe();
  p.mode = ParamIndex::Block;
  return p;
}

void quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& sc = ctx.input(1);
  Tensor& y = ctx.output(0);
  ParamIndex pi = param_index(ctx, x, sc);
  std::vector<float> xs = to_floats(x), scale = to_floats(sc);
  bool has_zp = ctx.has_input(2) && ctx.input(2).numel() > 0;
  std::vector<int64_t> zp = has_zp ? ctx.input(2).to_int64_vector() : std::vector<int64_t>(scale.size(), 0);
  R1_CHECK(zp.size() == scale.size(), InputError) << "QuantizeLinear: zero point and scale differ in size";
  dispatch_quantized(y.dtype(), [&](auto tag) {
    using Q = decltype(tag);
    Q* py = y.data<Q>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t k = pi(i);
      py[i] = saturate<Q>(std::nearbyint(xs[i] / scale[k]) + static_cast<float>(zp[k]));
    }
  });
}

void dequantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& sc = ctx.input(1);
  ParamIndex pi = param_index(ctx, x, sc);
  std::vector<int64_t> xv = x.to_int64_vector();
  std::vector<float> scale = to_floats(sc), out(static_cast<size_t>(x.numel()));
  bool has_zp = ctx.has_input(2) && ctx.input(2).numel() > 0;
  std::vector<int64_t> zp = has_zp ? ctx.input(2).to_int64_vector() : std::vector<int64_t>(scale.size(), 0);
  R1_CHECK(zp.size() == scale.size(), InputError) << "DequantizeLinear: zero point and scale differ in size";
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = pi(i);
    out[i] = static_cast<float>(xv[i] - zp[k]) * scale[k];
  }
  store_float(out.data(), ctx.output(0), ctx.pool());
}

// uint8 with the scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255].
void dynamic_quantize_linear(KernelContext& ctx) {
  std::vector<float> x = to_floats(ctx.input(0));
  float lo = 0, hi = 0;
  for (float v : x) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  float scale = (hi - lo) / 255.0f;
  uint8_t zp = scale > 0 ? saturate<uint8_t>(std::nearbyint(0.0f - lo / scale)) : 0;
  uint8_t* y = ctx.output(0).data<uint8_t>();
  for (size_t i = 0; i < x.size(); ++i) y[i] = scale > 0 ? saturate<uint8_t>(std::nearbyint(x[i] / scale) + zp) : zp;
  ctx.output(1).data<float>()[0] = scale;
  ctx.output(2).data<uint8_t>()[0] = zp;
}

// Integer product of (a - a_zp) and (b - b_zp), requantized with a_scale * b_scale / y_scale (per row of
// a / per column of b where the scales are 1-D).
void qlinear_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  MatMulPlan p = plan_matmul(a.shape(), b.shape());
  std::vector<float> as = to_floats(ctx.input(1)), bs = to_floats(ctx.input(4)), ys = to_floats(ctx.input(6));
  std::vector<int64_t> az = ctx.input(2).to_int64_vector(), bz = ctx.input(5).to_int64_vector(),
                       yz = ctx.input(7).to_int64_vector();
  R1_CHECK(ys.size() == 1 && yz.size() == 1, InputError) << "QLinearMatMul: y_scale and y_zero_point must be scalars";
  R1_CHECK((as.size() == 1 || static_cast<int64_t>(as.size()) == p.M) && az.size() == as.size(), InputError)
      << "QLinearMatMul: a's scale / zero point must be scalars or hold one value per row (" << p.M << ")";
  R1_CHECK((bs.size() == 1 || static_cast<int64_t>(bs.size()) == p.N) && bz.size() == bs.size(), InputError)
      << "QLinearMatMul: b's scale / zero point must be scalars or hold one value per column (" << p.N << ")";
  std::vector<int64_t> av = a.to_int64_vector(), bv = b.to_int64_vector();
  std::vector<int32_t> A(av.size()), B(bv.size());
  for (size_t i = 0; i < av.size(); ++i) A[i] = static_cast<int32_t>(av[i] - az[az.size() == 1 ? 0 : (i / p.K) % p.M]);
  for (size_t i = 0; i < bv.size(); ++i) B[i] = static_cast<int32_t>(bv[i] - bz[bz.size() == 1 ? 0 : i % p.N]);
  std::vector<int32_t> acc(static_cast<size_t>(y.numel()));
  matmul_int<int32_t>(p, A.data(), B.data(), acc.data(), ctx.pool());
  dispatch_quantized(y.dtype(), [&](auto tag) {
    using Q = decltype(tag);
    Q* py = y.data<Q>();
    for (size_t i = 0; i < acc.size(); ++i) {
      int64_t row = (static_cast<int64_t>(i) / p.N) % p.M, col = static_cast<int64_t>(i) % p.N;
      float m = as[as.size() == 1 ? 0 : row] * bs[bs.size() == 1 ? 0 : col] / ys[0];
      py[i] = saturate<Q>(std::nearbyint(static_cast<float>(acc[i]) * m) + static_cast<float>(yz[0]));
    }
  });
}

// r1::QuantDequant: a QuantizeLinear -> DequantizeLinear pair in one pass, no integer tensor between.
void quant_dequant(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const AttributeMap& at = ctx.attrs();
  const float scale = at.get_float("scale", 1.f), zero = static_cast<float>(at.get_int("zero_point", 0));
  const float qmin = static_cast<float>(at.get_int("qmin", 0)), qmax = static_cast<float>(at.get_int("qmax", 255));
  FloatIn in = float_input(x, ctx.pool());
  FloatOut out;
  out.init(y);
  const bool avx512 = gemm::fast_gemm_available();  // AVX-512 here, and allowed by the ISA limit (tests)
  ctx.pool().parallel_for(0, x.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
    if (avx512)
      quant_dequant_avx512(in.p + i0, out.p + i0, i1 - i0, scale, zero, qmin, qmax);
    else
      quant_dequant_ref(in.p + i0, out.p + i0, i1 - i0, scale, zero, qmin, qmax);
  });
  out.finish(ctx.pool());
}

// r1::GatherDequant: y[i, ...] = table[indices[i], ...] * scales[indices[i]].
void gather_dequant(KernelContext& ctx) {
  const Tensor& table = ctx.input(0);
  const Tensor& scales = ctx.input(1);
  const int64_t V = table.rank() > 0 ? table.dim(0) : 0;
  const int64_t inner = V > 0 ? table.numel() / V : 0;
  R1_CHECK(scales.numel() == V, InputError) << "GatherDequant: " << scales.numel() << " scales for " << V << " rows";
  std::vector<int64_t> idx = ctx.input(2).to_int64_vector();
  for (int64_t& v : idx) {
    if (v < 0) v += V;
    R1_CHECK(v >= 0 && v < V, InputError) << "GatherDequant: index " << v << " is out of range for " << V << " rows";
  }
  float* y = ctx.output(0).data<float>();
  const int8_t* q = table.data<int8_t>();
  const float* s = scales.data<float>();
  ctx.pool().parallel_for(0, static_cast<int64_t>(idx.size()),
                          std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
                            for (int64_t i = b; i < e; ++i) {
                              const int8_t* src = q + idx[i] * inner;
                              const float sc = s[idx[i]];
                              float* dst = y + i * inner;
                              for (int64_t j = 0; j < inner; ++j) dst[j] = static_cast<float>(src[j]) * sc;
                            }
                          });
}

}  // namespace

void quant_dequant_ref(const float* x, float* y, int64_t n, float scale, float zero, float qmin, float qmax) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = std::min(qmax, std::max(qmin, std::nearbyint(x[i] / scale) + zero));
    y[i] = (q - zero) * scale;
  }
}

void register_quantize_kernels(KernelTable& t) {
  t.add("QuantDequant", quant_dequant, "r1");
  t.add("GatherDequant", gather_dequant, "r1");
  t.add("QuantizeLinear", quantize_linear);
  t.add("DequantizeLinear", dequantize_linear);
  t.add("DynamicQuantizeLinear", dynamic_quantize_linear);
  t.add("QLinearMatMul", qlinear_matmul);
}
}  // namespace r1::cpu
