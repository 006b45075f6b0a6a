// The math of the elementwise ops (elementwise_unary, activation, gelu, elementwise_binary, logic) as device functors
// over float (the compute type of every float dtype). One functor per ONNX op; `make` reads the node's attributes on
// the host. The kernels that apply them (with broadcasting, for every dtype) are in elementwise.cuh.
//
//   LeakyRelu op = LeakyRelu::make(ctx.attrs());   float y = op(x);
#pragma once
#include <math.h>

#include <string>

#include "r1/ir/attribute.h"

namespace r1::gpu::ops {

#define R1_GPU_UNARY(Name, expr)                                  \
  struct Name {                                                   \
    static Name make(const AttributeMap&) { return {}; }          \
    __device__ float operator()(float x) const { return (expr); } \
  };

R1_GPU_UNARY(Identity, x)
R1_GPU_UNARY(Exp, expf(x))
R1_GPU_UNARY(Log, logf(x))
R1_GPU_UNARY(Sqrt, sqrtf(x))
R1_GPU_UNARY(Reciprocal, 1.0f / x)
R1_GPU_UNARY(Floor, floorf(x))
R1_GPU_UNARY(Ceil, ceilf(x))
R1_GPU_UNARY(Round, rintf(x))  // ONNX Round: halves to even, as rint in the default rounding mode
R1_GPU_UNARY(Sin, sinf(x))
R1_GPU_UNARY(Cos, cosf(x))
R1_GPU_UNARY(Tan, tanf(x))
R1_GPU_UNARY(Asin, asinf(x))
R1_GPU_UNARY(Acos, acosf(x))
R1_GPU_UNARY(Atan, atanf(x))
R1_GPU_UNARY(Sinh, sinhf(x))
R1_GPU_UNARY(Cosh, coshf(x))
R1_GPU_UNARY(Asinh, asinhf(x))
R1_GPU_UNARY(Acosh, acoshf(x))
R1_GPU_UNARY(Atanh, atanhf(x))
R1_GPU_UNARY(Tanh, tanhf(x))
R1_GPU_UNARY(Sigmoid, 1.0f / (1.0f + expf(-x)))
R1_GPU_UNARY(Erf, erff(x))
R1_GPU_UNARY(Softsign, x / (1.0f + fabsf(x)))
// log(1 + e^x) without overflow: x + log1p(e^-x) for large x.
R1_GPU_UNARY(Softplus, x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)))
R1_GPU_UNARY(Mish, x* tanhf(x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x))))
R1_GPU_UNARY(HardSwish, x* fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f))
// Comparisons rather than fmaxf/fminf so NaN propagates, as on the CPU and in numpy.
R1_GPU_UNARY(Relu, x < 0.0f ? 0.0f : x)
R1_GPU_UNARY(Abs, fabsf(x))
R1_GPU_UNARY(Neg, -x)
R1_GPU_UNARY(Sign, x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x))  // 0 and NaN map to themselves
#undef R1_GPU_UNARY

struct LeakyRelu {
  float alpha;
  static LeakyRelu make(const AttributeMap& a) { return {a.get_float("alpha", 0.01f)}; }
  __device__ float operator()(float x) const { return x < 0.0f ? alpha * x : x; }
};
struct Elu {
  float alpha;
  static Elu make(const AttributeMap& a) { return {a.get_float("alpha", 1.0f)}; }
  __device__ float operator()(float x) const { return x < 0.0f ? alpha * expm1f(x) : x; }
};
struct Selu {
  float alpha, gamma;
  static Selu make(const AttributeMap& a) {
    return {a.get_float("alpha", 1.67326319217681884765625f), a.get_float("gamma", 1.05070102214813232421875f)};
  }
  __device__ float operator()(float x) const { return x <= 0.0f ? gamma * alpha * expm1f(x) : gamma * x; }
};
struct Celu {
  float alpha;
  static Celu make(const AttributeMap& a) { return {a.get_float("alpha", 1.0f)}; }
  __device__ float operator()(float x) const { return x > 0.0f ? x : alpha * expm1f(x / alpha); }
};
struct HardSigmoid {
  float alpha, beta;
  static HardSigmoid make(const AttributeMap& a) { return {a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f)}; }
  __device__ float operator()(float x) const { return fminf(fmaxf(alpha * x + beta, 0.0f), 1.0f); }
};
struct ThresholdedRelu {
  float alpha;
  static ThresholdedRelu make(const AttributeMap& a) { return {a.get_float("alpha", 1.0f)}; }
  __device__ float operator()(float x) const { return x > alpha ? x : 0.0f; }
};
struct Gelu {
  bool tanh_form;
  static Gelu make(const AttributeMap& a) { return {a.get_string("approximate", "none") == "tanh"}; }
  __device__ float operator()(float x) const {
    if (tanh_form) return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
  }
};
struct Scale {  // Mean: the sum times 1/n
  float s;
  __device__ float operator()(float x) const { return x * s; }
};

// Predicates (bool outputs).
struct IsNaN {
  static IsNaN make(const AttributeMap&) { return {}; }
  __device__ bool operator()(float x) const { return isnan(x); }
};
struct IsInf {
  bool pos, neg;
  static IsInf make(const AttributeMap& a) {
    return {a.get_int("detect_positive", 1) != 0, a.get_int("detect_negative", 1) != 0};
  }
  __device__ bool operator()(float x) const { return isinf(x) && (x > 0.0f ? pos : neg); }
};

// Binary ops.
#define R1_GPU_BINARY(Name, R, expr)                                   \
  struct Name {                                                        \
    static Name make(const AttributeMap&) { return {}; }               \
    __device__ R operator()(float a, float b) const { return (expr); } \
  };
R1_GPU_BINARY(Add, float, a + b)
R1_GPU_BINARY(Sub, float, a - b)
R1_GPU_BINARY(Mul, float, a* b)
R1_GPU_BINARY(Div, float, a / b)
R1_GPU_BINARY(Pow, float, powf(a, b))
R1_GPU_BINARY(PRelu, float, a < 0.0f ? a * b : a)
// NaN in either operand propagates (numpy maximum/minimum; ONNX Max/Min).
R1_GPU_BINARY(Max, float, (isnan(a) || isnan(b)) ? a + b : (a < b ? b : a))
R1_GPU_BINARY(Min, float, (isnan(a) || isnan(b)) ? a + b : (b < a ? b : a))
R1_GPU_BINARY(Equal, bool, a == b)
R1_GPU_BINARY(Less, bool, a < b)
R1_GPU_BINARY(Greater, bool, a > b)
R1_GPU_BINARY(LessOrEqual, bool, a <= b)
R1_GPU_BINARY(GreaterOrEqual, bool, a >= b)
#undef R1_GPU_BINARY

struct Mod {
  bool c_fmod;  // fmod=1: sign of the dividend (C fmod); fmod=0: sign of the divisor (Python %)
  static Mod make(const AttributeMap& a) { return {a.get_int("fmod", 0) != 0}; }
  __device__ float operator()(float a, float b) const {
    float r = fmodf(a, b);
    if (!c_fmod && r != 0.0f && ((r < 0.0f) != (b < 0.0f))) r += b;
    return r;
  }
};

}  // namespace r1::gpu::ops
