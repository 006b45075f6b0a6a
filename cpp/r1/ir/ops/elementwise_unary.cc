// Schemas and shape inference of the elementwise family: unary math, activations, binary arithmetic
// with numpy broadcasting, variadic Max/Min/Sum/Mean, comparisons, logic, Where, Cast/CastLike.
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

enum class Kinds { Float, Numeric, Signed, Bool, Any };

void check_dtype(const InferContext& ctx, size_t i, Kinds k) {
  DType t = ctx.input_dtype(i);
  const std::string& op = ctx.node().op_type;
  switch (k) {
    case Kinds::Float:
      R1_CHECK(is_float(t), ModelError) << op << " of dtype " << dtype_name(t)
                                        << " is not supported (needs float32, float16 or bfloat16)";
      break;
    case Kinds::Numeric:
      R1_CHECK(t != DType::Bool, ModelError) << op << " of dtype bool is not supported (needs a numeric dtype)";
      break;
    case Kinds::Signed:
      R1_CHECK(t != DType::Bool && t != DType::UInt8, ModelError)
          << op << " of dtype " << dtype_name(t) << " is not supported (needs a signed numeric dtype)";
      break;
    case Kinds::Bool:
      R1_CHECK(t == DType::Bool, ModelError) << op << " of dtype " << dtype_name(t) << " is not supported (needs bool)";
      break;
    case Kinds::Any:
      break;
  }
}

InferFn unary(Kinds k) {
  return [k](InferContext& c) {
    check_dtype(c, 0, k);
    infer_like_input0(c);
  };
}

InferFn unary_to_bool(Kinds k) {
  return [k](InferContext& c) {
    check_dtype(c, 0, k);
    c.set_output(0, DType::Bool, c.input_shape(0));
  };
}

// Every present input has kind k and the same dtype; output is their broadcast, with dtype `out`
// (Undefined: input 0's).
InferFn broadcast(Kinds k, DType out = DType::Undefined) {
  return [k, out](InferContext& c) {
    for (size_t i = 0; i < c.num_inputs(); ++i)
      if (c.has_input(i)) check_dtype(c, i, k);
    infer_broadcast(c, out);
  };
}

void infer_gelu(InferContext& c) {
  check_dtype(c, 0, Kinds::Float);
  std::string a = c.attrs().get_string("approximate", "none");
  R1_CHECK(a == "none" || a == "tanh", ModelError) << "Gelu: approximate='" << a << "' is not supported";
  infer_like_input0(c);
}

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

void infer_isinf(InferContext& c) {
  check_dtype(c, 0, Kinds::Float);
  c.set_output(0, DType::Bool, c.input_shape(0));
}

void infer_prelu(InferContext& c) {
  check_dtype(c, 0, Kinds::Numeric);
  infer_broadcast(c);
}

void infer_pow(InferContext& c) {
  check_dtype(c, 0, Kinds::Numeric);
  check_dtype(c, 1, Kinds::Numeric);
  infer_broadcast(c, c.input_dtype(0), /*check_same_dtype=*/false);
}

void infer_mod(InferContext& c) {
  int64_t fmod = c.attrs().get_int("fmod", 0);
  R1_CHECK(fmod == 0 || fmod == 1, ModelError) << "Mod: fmod=" << fmod << " is not supported (0 or 1)";
  check_dtype(c, 0, Kinds::Numeric);
  infer_broadcast(c);
}

void infer_bitshift(InferContext& c) {
  std::string dir = c.attrs().get_string("direction", "");
  R1_CHECK(dir == "LEFT" || dir == "RIGHT", ModelError) << "BitShift: direction '" << dir << "' is not supported";
  R1_CHECK(is_integer(c.input_dtype(0)), ModelError)
      << "BitShift of dtype " << dtype_name(c.input_dtype(0)) << " is not supported (needs an integer dtype)";
  infer_broadcast(c);
}

void infer_compare(InferContext& c) {
  const std::string& op = c.node().op_type;
  Kinds k = op == "Equal" ? Kinds::Any : Kinds::Numeric;
  check_dtype(c, 0, k);
  infer_broadcast(c, DType::Bool);
}

void infer_where(InferContext& c) {
  check_dtype(c, 0, Kinds::Bool);
  R1_CHECK(c.input_dtype(1) == c.input_dtype(2), ModelError)
      << "Where: X and Y have different dtypes: " << dtype_name(c.input_dtype(1)) << " and "
      << dtype_name(c.input_dtype(2));
  Shape s = broadcast_shapes(broadcast_shapes(c.input_shape(0), c.input_shape(1)), c.input_shape(2));
  c.set_output(0, c.input_dtype(1), s);
}

void infer_cast(InferContext& c) {
  R1_CHECK(c.attrs().has("to"), ModelError) << "Cast needs the attribute 'to'";
  int64_t to = c.attrs().get_int("to", 0);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(to)), ModelError)
      << "Cast to ONNX element type " << to
      << " is not supported (supported: float32, float16, bfloat16, int8, uint8, int32, int64, bool)";
  c.set_output(0, static_cast<DType>(to), c.input_shape(0));
}

void infer_castlike(InferContext& c) { c.set_output(0, c.input_dtype(1), c.input_shape(0)); }

}  // namespace

void register_elementwise_ops(OpRegistry& reg) {
  // Unary float math and activations.
  for (const char* op :
       {"Exp",      "Log",      "Sqrt", "Reciprocal",     "Floor", "Ceil", "Round", "Sin",         "Cos",
        "Tan",      "Asin",     "Acos", "Atan",           "Sinh",  "Cosh", "Asinh", "Acosh",       "Atanh",
        "Tanh",     "Sigmoid",  "Erf",  "LeakyRelu",      "Elu",   "Selu", "Celu",  "HardSigmoid", "HardSwish",
        "Softplus", "Softsign", "Mish", "ThresholdedRelu"})
    reg.add(schema(op, 1, 1, unary(Kinds::Float)));
  reg.add(schema("Gelu", 1, 1, infer_gelu));
  // Unary numeric.
  reg.add(schema("Abs", 1, 1, unary(Kinds::Numeric)));
  reg.add(schema("Sign", 1, 1, unary(Kinds::Numeric)));
  reg.add(schema("Relu", 1, 1, unary(Kinds::Numeric)));
  reg.add(schema("Neg", 1, 1, unary(Kinds::Signed)));
  reg.add(schema("Clip", 1, 3, infer_clip));
  reg.add(schema("IsNaN", 1, 1, unary_to_bool(Kinds::Float)));
  reg.add(schema("IsInf", 1, 1, infer_isinf));
  reg.add(schema("Not", 1, 1, unary(Kinds::Bool)));

  // Binary and variadic with broadcasting.
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) reg.add(schema(op, 2, 2, broadcast(Kinds::Numeric)));
  reg.add(schema("Pow", 2, 2, infer_pow));
  reg.add(schema("Mod", 2, 2, infer_mod));
  reg.add(schema("PRelu", 2, 2, infer_prelu));
  reg.add(schema("BitShift", 2, 2, infer_bitshift));
  for (const char* op : {"Max", "Min", "Sum"}) reg.add(schema(op, 1, 1 << 20, broadcast(Kinds::Numeric)));
  reg.add(schema("Mean", 1, 1 << 20, broadcast(Kinds::Float)));

  // Comparisons and logic.
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    reg.add(schema(op, 2, 2, infer_compare));
  for (const char* op : {"And", "Or", "Xor"}) reg.add(schema(op, 2, 2, broadcast(Kinds::Bool)));
  reg.add(schema("Where", 3, 3, infer_where));

  // Conversions.
  reg.add(schema("Cast", 1, 1, infer_cast));
  reg.add(schema("CastLike", 2, 2, infer_castlike));
}
}  // namespace r1
