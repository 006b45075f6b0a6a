// Schema of Where: bool condition, X and Y of one dtype, numpy broadcasting over the three.
#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

void infer_where(InferContext& c) {
  check_dtype(c, 0, Kinds::Bool);
  R1_CHECK(c.input_dtype(1) == c.input_dtype(2), ModelError)
      << "Where: X and Y have different dtypes: " << dtype_name(c.input_dtype(1)) << " and "
      << dtype_name(c.input_dtype(2));
  Shape s = broadcast_shapes(broadcast_shapes(c.input_shape(0), c.input_shape(1)), c.input_shape(2));
  c.set_output(0, c.input_dtype(1), s);
}

}  // namespace

void register_where_ops(OpRegistry& reg) { reg.add(schema("Where", 3, 3, infer_where)); }
}  // namespace r1
