// Schemas of the logic and bit ops: And, Or, Xor, Not (bool), BitShift and BitwiseAnd / Or / Xor / Not
// (integers).
#include <string>

#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

void infer_bitshift(InferContext& c) {
  std::string dir = c.attrs().get_string("direction", "");
  R1_CHECK(dir == "LEFT" || dir == "RIGHT", ModelError) << "BitShift: direction '" << dir << "' is not supported";
  R1_CHECK(is_integer(c.input_dtype(0)), ModelError)
      << "BitShift of dtype " << dtype_name(c.input_dtype(0)) << " is not supported (needs an integer dtype)";
  infer_broadcast(c);
}

// BitwiseAnd, BitwiseOr, BitwiseXor (broadcast) and BitwiseNot: integer dtypes only.
void infer_bitwise(InferContext& c) {
  for (size_t i = 0; i < c.num_inputs(); ++i)
    R1_CHECK(is_integer(c.input_dtype(i)), ModelError)
        << c.node().op_type << " of dtype " << dtype_name(c.input_dtype(i))
        << " is not supported (needs an integer dtype)";
  infer_broadcast(c);
}

}  // namespace

void register_logic_ops(OpRegistry& reg) {
  for (const char* op : {"And", "Or", "Xor"}) reg.add(schema(op, 2, 2, broadcast(Kinds::Bool)));
  reg.add(schema("Not", 1, 1, unary(Kinds::Bool)));
  reg.add(schema("BitShift", 2, 2, infer_bitshift));
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"})
    reg.add(with_opsets(schema(op, 2, 2, infer_bitwise), 18));
  reg.add(with_opsets(schema("BitwiseNot", 1, 1, infer_bitwise), 18));
}
}  // namespace r1
