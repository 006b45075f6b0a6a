// Schemas of the activations: Relu, Tanh, Sigmoid, LeakyRelu, Elu, Selu, Celu, HardSigmoid, HardSwish,
// Softplus, Softsign, Mish, ThresholdedRelu, Swish, Shrink and Clip (Gelu has a file of its own: gelu.cc).
#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

void infer_clip(InferContext& c) {
  check_dtype(c, 0, Kinds::Numeric);
  if (c.opset() < 11) {
    R1_CHECK(c.num_inputs() <= 1, ModelError) << "Clip takes min/max as attributes before opset 11";
  } else {
    R1_CHECK(!c.attrs().has("min") && !c.attrs().has("max"), ModelError)
        << "Clip takes min/max as inputs from opset 11, not as attributes";
    for (size_t i = 1; i < 3; ++i) {
      if (!c.has_input(i)) continue;
      R1_CHECK(c.input_dtype(i) == c.input_dtype(0), ModelError)
          << "Clip: bound " << i << " has dtype " << dtype_name(c.input_dtype(i)) << ", input has "
          << dtype_name(c.input_dtype(0));
      if (c.input_has_shape(i)) {
        const Shape& s = c.input_shape(i);
        bool one = true;
        for (int64_t d : s) one = one && (d == 1 || !is_known(d));
        R1_CHECK(one, InputError) << "Clip: min/max must be scalars, got shape " << shape_str(s);
      }
    }
  }
  infer_like_input0(c);
}

}  // namespace

void register_activation_ops(OpRegistry& reg) {
  for (const char* op : {"Tanh", "Sigmoid", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus",
                         "Softsign", "Mish", "ThresholdedRelu"})
    reg.add(schema(op, 1, 1, unary(Kinds::Float)));
  reg.add(schema("Relu", 1, 1, unary(Kinds::Numeric)));
  reg.add(with_opsets(schema("Swish", 1, 1, unary(Kinds::Float)), 24));
  reg.add(with_opsets(schema("Shrink", 1, 1, unary(Kinds::Numeric)), 9));
  reg.add(schema("Clip", 1, 3, infer_clip));
}
}  // namespace r1
