// Schemas of the broadcasting binary ops (Add, Sub, Mul, Div, Pow, Mod, PRelu), the variadic Max, Min,
// Sum and Mean, and the comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual).
#include <string>

#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

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

void infer_compare(InferContext& c) {
  const std::string& op = c.node().op_type;
  Kinds k = op == "Equal" ? Kinds::Any : Kinds::Numeric;
  check_dtype(c, 0, k);
  infer_broadcast(c, DType::Bool);
}

}  // namespace

void register_elementwise_binary_ops(OpRegistry& reg) {
  // Binary and variadic with broadcasting.
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) reg.add(schema(op, 2, 2, broadcast(Kinds::Numeric)));
  reg.add(schema("Pow", 2, 2, infer_pow));
  reg.add(schema("Mod", 2, 2, infer_mod));
  reg.add(schema("PRelu", 2, 2, infer_prelu));
  for (const char* op : {"Max", "Min", "Sum"}) reg.add(schema(op, 1, 1 << 20, broadcast(Kinds::Numeric)));
  reg.add(schema("Mean", 1, 1 << 20, broadcast(Kinds::Float)));

  // Comparisons.
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    reg.add(schema(op, 2, 2, infer_compare));
}
}  // namespace r1
