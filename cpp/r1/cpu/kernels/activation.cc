// CPU kernels of the activations: Relu, LeakyRelu, ThresholdedRelu, Tanh, Sigmoid, HardSigmoid,
// HardSwish, Elu, Selu, Celu, Softplus, Softsign, Mish, Swish (float types; Relu, Shrink: every non-bool
// type) and Clip.
// Gelu has a file of its own (gelu.cc).
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <cmath>
#include <limits>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

using ew::float_unary;
using ew::map_unary;
using ew::numeric_unary;

// ---- float ops: functors constructed from the node's attributes, called with float values.
R1_SIMPLE_FLOAT_OP(TanhOp, ew::vtanh(x))
R1_SIMPLE_FLOAT_OP(SigmoidOp, ew::vsigmoid(x))
R1_SIMPLE_FLOAT_OP(SoftsignOp, x / (1.0f + std::fabs(x)))

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

struct SwishOp {
  float alpha;
  explicit SwishOp(const AttributeMap& a) : alpha(a.get_float("alpha", 1.0f)) {}
  float operator()(float x) const { return x * ew::vsigmoid(alpha * x); }
};

// x - bias above lambd, x + bias below -lambd, 0 between (computed in float, as onnxruntime does).
void shrink(KernelContext& ctx) {
  const float lambd = ctx.attrs().get_float("lambd", 0.5f), bias = ctx.attrs().get_float("bias", 0.0f);
  numeric_unary(ctx, [lambd, bias](auto v) {
    using C = decltype(v);
    float f = static_cast<float>(v);
    return static_cast<C>(f < -lambd ? f + bias : f > lambd ? f - bias : 0.0f);
  });
}

void relu(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) { return v < 0 ? decltype(v)(0) : v; });  // NaN stays NaN
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

}  // namespace

// in_place(1u): output 0 may overwrite input 0. The float_unary ops run ew::map_unary (y[i] = f(x[i]):
// each element is read before the same index is written); Clip reads its min/max inputs before the loop.
void register_activation_kernels(KernelTable& t) {
  t.add("Tanh", float_unary<TanhOp>).in_place(1u);
  t.add("Sigmoid", float_unary<SigmoidOp>).in_place(1u);
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
  t.add("Relu", relu).in_place(1u);
  t.add("Swish", float_unary<SwishOp>).in_place(1u);
  t.add("Shrink", shrink).in_place(1u);
  t.add("Clip", clip).in_place(1u);
}
}  // namespace r1::cpu
