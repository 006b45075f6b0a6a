// Schemas of CumSum and CumProd.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_cumsum(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << c.node().op_type << ": bool is not supported";
  c.set_output(0, t, c.input_shape(0));
}

}  // namespace

void register_cumsum_ops(OpRegistry& reg) {
  reg.add(schema("CumSum", 2, 2, infer_cumsum));
  reg.add(with_opsets(schema("CumProd", 2, 2, infer_cumsum), 26));
}
}  // namespace r1
