// Schema of Hardmax (inference: infer_softmax in infer_util.h, shared with Softmax).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {

void register_hardmax_ops(OpRegistry& reg) {
  reg.add(schema("Hardmax", 1, 1, [](InferContext& c) { infer_softmax(c); }));
}
}  // namespace r1
