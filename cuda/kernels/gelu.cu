// Gelu and r1::Gelu on the GPU (contract of r1::Gelu: cpp/r1/passes/README.md).
//   Gelu (ONNX): the unary template of elementwise.cuh with ops::Gelu (ew_ops.cuh).
//   r1::Gelu: the unary template of elementwise.cuh with an op that evaluates the erf form as
//   0.5 x erfc(-x / sqrt 2) (no cancellation in 1 + erf for negative x) and the tanh form as
//   x / (1 + exp(-2u)), the formulas of the CPU kernel.
#include <cfloat>
#include <string>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// GELU with the CPU kernel's formulas. The erf form: 0.5 x erfc(-x / sqrt 2), x clamped to the finite
// range so x = -inf gives -0 rather than -inf * 0. The tanh form: x / (1 + exp(-2u)), u from x clamped
// to [-100, 100]; x = -inf gives -0 as well. NaN propagates (the clamps are comparisons that keep it).
struct GeluOp {
  bool tanh_form;
  static GeluOp make(const AttributeMap& a) {
    const std::string s = a.get_string("approximate", "none");
    R1_CHECK(s == "none" || s == "tanh", ModelError) << "Gelu: approximate='" << s << "' is not supported";
    return {s == "tanh"};
  }
  __device__ float operator()(float x) const {
    const float xf = x < -FLT_MAX ? -FLT_MAX : x;  // -inf -> lowest; NaN and +inf unchanged
    if (tanh_form) {
      const float xs = x > 100.0f ? 100.0f : (x < -100.0f ? -100.0f : x);
      const float u = 0.7978845608028654f * xs * (1.0f + 0.044715f * xs * xs);
      return xf / (1.0f + expf(-2.0f * u));
    }
    // z = -x / sqrt 2 rounds to float; the residual dz (exact product error plus the constant's
    // tail) corrects erfc to first order: erfc(z + dz) = erfc(z) - 2 / sqrt(pi) exp(-z^2) dz.
    const float z = x * -0.70710677f;
    float e = erfcf(z);
    if (fabsf(z) < 10.0f) {
      const float dz = fmaf(x, -0.70710677f, -z) + x * -1.2101617e-08f;
      e -= 1.1283791670955126f * expf(-z * z) * dz;
    }
    return 0.5f * xf * e;
  }
};

}  // namespace

// in_place(1u): unary_kernel's thread i reads x[i] before it writes y[i].
void register_gelu_kernels(KernelTable& t) {
  t.add("Gelu", unary_entry<ops::Gelu>).in_place(1u);
  t.add("Gelu", unary_entry<GeluOp>, "r1");
}
}  // namespace r1::gpu
