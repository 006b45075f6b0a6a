// CPU kernels of the unary elementwise ops: float math, activations, numeric unary ops, Clip,
// IsNaN/IsInf and Not. Each op is a small functor instantiated only for the dtypes ONNX allows
// (transcendental ops: the three float types; numeric ops: every non-bool type).
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cmath>
#include <limits>
#include <string>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/ir/attribute.h"

namespace r1::cpu {

void gelu_kernel(KernelContext& ctx);  // fused_norm.cc

namespace {

using ew::map_unary;

// ---- float ops: functors constructed from the node's attributes, called with float values.
#define R1_SIMPLE_FLOAT_OP(Name, expr)                 \
  struct Name {                                        \
    explicit Name(const AttributeMap&) {}              \
    float operator()(float x) const { return (expr); } \
  };

R1_SIMPLE_FLOAT_OP(ExpOp, ew::vexp(x))
R1_SIMPLE_FLOAT_OP(LogOp, std::log(x))
R1_SIMPLE_FLOAT_OP(SqrtOp, std::sqrt(x))
R1_SIMPLE_FLOAT_OP(ReciprocalOp, 1.0f / x)
R1_SIMPLE_FLOAT_OP(FloorOp, std::floor(x))
R1_SIMPLE_FLOAT_OP(CeilOp, std::ceil(x))
R1_SIMPLE_FLOAT_OP(RoundOp, std::nearbyint(x))  // default rounding mode: half to even
R1_SIMPLE_FLOAT_OP(SinOp, std::sin(x))
R1_SIMPLE_FLOAT_OP(CosOp, std::cos(x))
R1_SIMPLE_FLOAT_OP(TanOp, std::tan(x))
R1_SIMPLE_FLOAT_OP(AsinOp, std::asin(x))
R1_SIMPLE_FLOAT_OP(AcosOp, std::acos(x))
R1_SIMPLE_FLOAT_OP(AtanOp, std::atan(x))
R1_SIMPLE_FLOAT_OP(SinhOp, std::sinh(x))
R1_SIMPLE_FLOAT_OP(CoshOp, std::cosh(x))
R1_SIMPLE_FLOAT_OP(AsinhOp, std::asinh(x))
R1_SIMPLE_FLOAT_OP(AcoshOp, std::acosh(x))
R1_SIMPLE_FLOAT_OP(AtanhOp, std::atanh(x))
R1_SIMPLE_FLOAT_OP(TanhOp, ew::vtanh(x))
R1_SIMPLE_FLOAT_OP(SigmoidOp, ew::vsigmoid(x))
R1_SIMPLE_FLOAT_OP(ErfOp, ew::verf(x))
R1_SIMPLE_FLOAT_OP(SoftsignOp, x / (1.0f + std::fabs(x)))
#undef R1_SIMPLE_FLOAT_OP

inline float softplus(float x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

struct SoftplusOp {
  explicit SoftplusOp(const AttributeMap&) {}
  float operator()(float x) const { return softplus(x); }
};
struct MishOp {
  explicit MishOp(const AttributeMap&) {}
  float operator()(float x) const { return x * ew::vtanh(softplus(x)); }
};
struct LeakyReluOp {
  float alpha;
  explicit LeakyReluOp(const AttributeMap& a) : alpha(a.get_float("alpha", 0.01f)) {}
  float operator()(float x) const { return x >= 0 ? x : alpha * x; }
};
struct EluOp {
  float alpha;
  explicit EluOp(const AttributeMap& a) : alpha(a.get_float("alpha", 1.0f)) {}
  float operator()(float x) const { return x >= 0 ? x : alpha * std::expm1(x); }
};
struct SeluOp {
  float alpha, gamma;
  explicit SeluOp(const AttributeMap& a)
      : alpha(a.get_float("alpha", 1.67326319217681884765625f)),
        gamma(a.get_float("gamma", 1.05070102214813232421875f)) {}
  float operator()(float x) const { return x > 0 ? gamma * x : gamma * alpha * std::expm1(x); }
};
struct CeluOp {
  float alpha;
  explicit CeluOp(const AttributeMap& a) : alpha(a.get_float("alpha", 1.0f)) {}
  float operator()(float x) const { return x > 0 ? x : alpha * std::expm1(x / alpha); }
};
struct HardSigmoidOp {
  float alpha, beta;
  explicit HardSigmoidOp(const AttributeMap& a) : alpha(a.get_float("alpha", 0.2f)), beta(a.get_float("beta", 0.5f)) {}
  float operator()(float x) const { return std::min(1.0f, std::max(0.0f, alpha * x + beta)); }
};
struct HardSwishOp {
  explicit HardSwishOp(const AttributeMap&) {}
  float operator()(float x) const { return x * std::min(1.0f, std::max(0.0f, x * (1.0f / 6.0f) + 0.5f)); }
};
struct ThresholdedReluOp {
  float alpha;
  explicit ThresholdedReluOp(const AttributeMap& a) : alpha(a.get_float("alpha", 1.0f)) {}
  float operator()(float x) const { return x > alpha ? x : 0.0f; }
};
template <class Op>
void float_unary(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  Op op(ctx.attrs());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), [op](float v) { return op(v); });
  });
}

// ---- numeric ops: generic lambdas over compute_t<T>.
template <class F>
void numeric_unary(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), f);
  });
}

void relu(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) { return v < 0 ? decltype(v)(0) : v; });  // NaN stays NaN
}

void abs_k(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>) {
      return v;
    } else if constexpr (std::is_integral_v<C>) {
      return v < 0 ? ew::wrap_sub(C(0), v) : v;
    } else {
      return std::fabs(v);
    }
  });
}

void neg(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_integral_v<C>)
      return ew::wrap_sub(C(0), v);
    else
      return -v;
  });
}

void sign(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      if (v != v) return v;
    }
    return static_cast<C>(static_cast<int>(v > C(0)) - static_cast<int>(v < C(0)));
  });
}

void clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    C lo, hi;
    if constexpr (std::is_floating_point_v<C>) {
      lo = -std::numeric_limits<C>::infinity();
      hi = std::numeric_limits<C>::infinity();
    } else {
      lo = std::numeric_limits<C>::lowest();
      hi = std::numeric_limits<C>::max();
    }
    if (ctx.opset() < 11) {
      if (ctx.attrs().has("min")) lo = static_cast<C>(ctx.attrs().get_float("min", 0));
      if (ctx.attrs().has("max")) hi = static_cast<C>(ctx.attrs().get_float("max", 0));
    } else {
      if (ctx.has_input(1) && ctx.input(1).numel() > 0) lo = static_cast<C>(ctx.input(1).data<T>()[0]);
      if (ctx.has_input(2) && ctx.input(2).numel() > 0) hi = static_cast<C>(ctx.input(2).data<T>()[0]);
    }
    map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), [lo, hi](C v) {
      v = v < lo ? lo : v;
      return v > hi ? hi : v;
    });
  });
}

void isnan_k(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<bool>(), x.numel(), [](float v) { return v != v; });
  });
}

void isinf_k(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const bool pos = ctx.attrs().get_int("detect_positive", 1) != 0;
  const bool neg = ctx.attrs().get_int("detect_negative", 1) != 0;
  const float inf = std::numeric_limits<float>::infinity();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<bool>(), x.numel(),
              [=](float v) { return (pos && v == inf) || (neg && v == -inf); });
  });
}

void not_k(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  map_unary(ctx.pool(), x.data<bool>(), y.data<bool>(), x.numel(), [](bool v) { return !v; });
}

}  // namespace

// in_place(1u): output 0 may overwrite input 0. The float_unary ops run ew::map_unary (y[i] = f(x[i]):
// each element is read before the same index is written); Gelu's AVX-512 loop loads a 16-lane block of
// x before it stores the same block of y; Clip reads its min/max inputs before the loop. Not IsNaN /
// IsInf / Not (their output has another dtype).
void register_elementwise_unary_kernels(KernelTable& t) {
  t.add("Exp", float_unary<ExpOp>).in_place(1u);
  t.add("Log", float_unary<LogOp>).in_place(1u);
  t.add("Sqrt", float_unary<SqrtOp>).in_place(1u);
  t.add("Reciprocal", float_unary<ReciprocalOp>).in_place(1u);
  t.add("Floor", float_unary<FloorOp>).in_place(1u);
  t.add("Ceil", float_unary<CeilOp>).in_place(1u);
  t.add("Round", float_unary<RoundOp>).in_place(1u);
  t.add("Sin", float_unary<SinOp>).in_place(1u);
  t.add("Cos", float_unary<CosOp>).in_place(1u);
  t.add("Tan", float_unary<TanOp>).in_place(1u);
  t.add("Asin", float_unary<AsinOp>).in_place(1u);
  t.add("Acos", float_unary<AcosOp>).in_place(1u);
  t.add("Atan", float_unary<AtanOp>).in_place(1u);
  t.add("Sinh", float_unary<SinhOp>).in_place(1u);
  t.add("Cosh", float_unary<CoshOp>).in_place(1u);
  t.add("Asinh", float_unary<AsinhOp>).in_place(1u);
  t.add("Acosh", float_unary<AcoshOp>).in_place(1u);
  t.add("Atanh", float_unary<AtanhOp>).in_place(1u);
  t.add("Tanh", float_unary<TanhOp>).in_place(1u);
  t.add("Sigmoid", float_unary<SigmoidOp>).in_place(1u);
  t.add("Erf", float_unary<ErfOp>).in_place(1u);
  t.add("Softsign", float_unary<SoftsignOp>).in_place(1u);
  t.add("Softplus", float_unary<SoftplusOp>).in_place(1u);
  t.add("Mish", float_unary<MishOp>).in_place(1u);
  t.add("LeakyRelu", float_unary<LeakyReluOp>).in_place(1u);
  t.add("Elu", float_unary<EluOp>).in_place(1u);
  t.add("Selu", float_unary<SeluOp>).in_place(1u);
  t.add("Celu", float_unary<CeluOp>).in_place(1u);
  t.add("HardSigmoid", float_unary<HardSigmoidOp>).in_place(1u);
  t.add("HardSwish", float_unary<HardSwishOp>).in_place(1u);
  t.add("ThresholdedRelu", float_unary<ThresholdedReluOp>).in_place(1u);
  t.add("Gelu", gelu_kernel).in_place(1u);  // vectorised erf/tanh forms, shared with r1::Gelu
  t.add("Relu", relu).in_place(1u);
  t.add("Abs", abs_k).in_place(1u);
  t.add("Neg", neg).in_place(1u);
  t.add("Sign", sign).in_place(1u);
  t.add("Clip", clip).in_place(1u);
  t.add("IsNaN", isnan_k);
  t.add("IsInf", isinf_k);
  t.add("Not", not_k);
}

}  // namespace r1::cpu
