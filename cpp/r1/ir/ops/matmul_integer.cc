// Schema and shape inference of MatMulInteger (int8 / uint8 operands and zero points, int32 output).
#include "r1/ir/ops/matmul_infer.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_matmul_integer(InferContext& c) {
  for (size_t i = 0; i < 4; ++i) {
    if (!c.has_input(i)) continue;
    DType t = c.input_dtype(i);
    R1_CHECK(t == DType::Int8 || t == DType::UInt8, ModelError)
        << "MatMulInteger of dtype " << dtype_name(t) << " is not supported (needs int8 or uint8)";
  }
  if (c.has_input(2)) check_same(c, 0, 2);
  if (c.has_input(3)) check_same(c, 1, 3);
  c.set_output(0, DType::Int32, matmul_shape(c.input_shape(0), c.input_shape(1), "MatMulInteger"));
}

}  // namespace

void register_matmul_integer_ops(OpRegistry& reg) {
  reg.add(heavy(schema("MatMulInteger", 2, 4, infer_matmul_integer)));
}
}  // namespace r1
