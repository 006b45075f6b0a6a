// CPU kernels of the unary elementwise math ops: Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, the
// trigonometric and hyperbolic functions, Erf (the three float types), Abs, Neg, Sign (every non-bool
// type), IsNaN and IsInf. Each op is a small functor instantiated only for the dtypes ONNX allows.
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cmath>
#include <limits>
#include <string>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

using ew::float_unary;
using ew::map_unary;
using ew::numeric_unary;

// ---- float ops: functors constructed from the node's attributes, called with float values.
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
R1_SIMPLE_FLOAT_OP(ErfOp, ew::verf(x))

// The float math ops for float64: the same function in double (the float functors are float-only,
// some of them vectorized approximations).
template <class Op>
void float_or_double(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::Float64) {
    float_unary<Op>(ctx);
    return;
  }
  const std::string& op = ctx.node().op_type;
  double (*f)(double) = op == "Exp"          ? static_cast<double (*)(double)>(std::exp)
                        : op == "Log"        ? static_cast<double (*)(double)>(std::log)
                        : op == "Sqrt"       ? static_cast<double (*)(double)>(std::sqrt)
                        : op == "Reciprocal" ? [](double v) { return 1.0 / v; }
                        : op == "Floor"      ? static_cast<double (*)(double)>(std::floor)
                        : op == "Ceil"       ? static_cast<double (*)(double)>(std::ceil)
                        : op == "Round"      ? static_cast<double (*)(double)>(std::nearbyint)
                        : op == "Sin"        ? static_cast<double (*)(double)>(std::sin)
                        : op == "Cos"        ? static_cast<double (*)(double)>(std::cos)
                        : op == "Tan"        ? static_cast<double (*)(double)>(std::tan)
                        : op == "Asin"       ? static_cast<double (*)(double)>(std::asin)
                        : op == "Acos"       ? static_cast<double (*)(double)>(std::acos)
                        : op == "Atan"       ? static_cast<double (*)(double)>(std::atan)
                        : op == "Sinh"       ? static_cast<double (*)(double)>(std::sinh)
                        : op == "Cosh"       ? static_cast<double (*)(double)>(std::cosh)
                        : op == "Asinh"      ? static_cast<double (*)(double)>(std::asinh)
                        : op == "Acosh"      ? static_cast<double (*)(double)>(std::acosh)
                        : op == "Atanh"      ? static_cast<double (*)(double)>(std::atanh)
                        : op == "Erf"        ? static_cast<double (*)(double)>(std::erf)
                                             : nullptr;
  R1_CHECK(f != nullptr, InternalError) << op << " has no float64 form";
  map_unary(ctx.pool(), x.data<double>(), ctx.output(0).data<double>(), x.numel(), f);
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

}  // namespace

// in_place(1u): output 0 may overwrite input 0. The float_unary ops run ew::map_unary (y[i] = f(x[i]):
// each element is read before the same index is written). Not IsNaN / IsInf (their output has another
// dtype).
void register_elementwise_unary_kernels(KernelTable& t) {
  t.add("Exp", float_or_double<ExpOp>).in_place(1u);
  t.add("Log", float_or_double<LogOp>).in_place(1u);
  t.add("Sqrt", float_or_double<SqrtOp>).in_place(1u);
  t.add("Reciprocal", float_or_double<ReciprocalOp>).in_place(1u);
  t.add("Floor", float_or_double<FloorOp>).in_place(1u);
  t.add("Ceil", float_or_double<CeilOp>).in_place(1u);
  t.add("Round", float_or_double<RoundOp>).in_place(1u);
  t.add("Sin", float_or_double<SinOp>).in_place(1u);
  t.add("Cos", float_or_double<CosOp>).in_place(1u);
  t.add("Tan", float_or_double<TanOp>).in_place(1u);
  t.add("Asin", float_or_double<AsinOp>).in_place(1u);
  t.add("Acos", float_or_double<AcosOp>).in_place(1u);
  t.add("Atan", float_or_double<AtanOp>).in_place(1u);
  t.add("Sinh", float_or_double<SinhOp>).in_place(1u);
  t.add("Cosh", float_or_double<CoshOp>).in_place(1u);
  t.add("Asinh", float_or_double<AsinhOp>).in_place(1u);
  t.add("Acosh", float_or_double<AcoshOp>).in_place(1u);
  t.add("Atanh", float_or_double<AtanhOp>).in_place(1u);
  t.add("Erf", float_or_double<ErfOp>).in_place(1u);
  t.add("Abs", abs_k).in_place(1u);
  t.add("Neg", neg).in_place(1u);
  t.add("Sign", sign).in_place(1u);
  t.add("IsNaN", isnan_k);
  t.add("IsInf", isinf_k);
}
}  // namespace r1::cpu
