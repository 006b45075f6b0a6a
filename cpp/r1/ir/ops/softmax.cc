// Schemas of Softmax and LogSoftmax (inference: infer_softmax in infer_util.h, shared with Hardmax); these two
// take float64 too (computed in double).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {

void register_softmax_ops(OpRegistry& reg) {
  for (const char* op : {"Softmax", "LogSoftmax"})
    reg.add(schema(op, 1, 1, [](InferContext& c) { infer_softmax(c, /*takes_float64=*/true); }));
}
}  // namespace r1
