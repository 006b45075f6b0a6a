// Schemas of the unary elementwise math ops: Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, the
// trigonometric and hyperbolic functions, Erf, Abs, Sign, Neg, IsNaN and IsInf.
#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

InferFn unary_to_bool(Kinds k) {
  return [k](InferContext& c) {
    check_dtype(c, 0, k);
    c.set_output(0, DType::Bool, c.input_shape(0));
  };
}

void infer_isinf(InferContext& c) {
  check_dtype(c, 0, Kinds::Float);
  c.set_output(0, DType::Bool, c.input_shape(0));
}

}  // namespace

void register_elementwise_unary_ops(OpRegistry& reg) {
  // Float math.
  for (const char* op : {"Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin",
                         "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf"})
    reg.add(schema(op, 1, 1, unary(Kinds::FloatOrDouble)));
  // Unary numeric.
  reg.add(schema("Abs", 1, 1, unary(Kinds::Numeric)));
  reg.add(schema("Sign", 1, 1, unary(Kinds::Numeric)));
  reg.add(schema("Neg", 1, 1, unary(Kinds::Signed)));
  reg.add(schema("IsNaN", 1, 1, unary_to_bool(Kinds::Float)));
  reg.add(schema("IsInf", 1, 1, infer_isinf));
}
}  // namespace r1
