// Schemas and shape inference of the elementwise family.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
void register_elementwise_ops(OpRegistry& reg) {
  reg.add(schema("Relu", 1, 1, infer_like_input0));
  reg.add(schema("Add", 2, 2, [](InferContext& c) { infer_broadcast(c); }));
}
}  // namespace r1
