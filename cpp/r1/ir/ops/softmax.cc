// Schemas of Softmax and LogSoftmax (inference: infer_softmax in infer_util.h, shared with Hardmax).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {

void register_softmax_ops(OpRegistry& reg) {
  for (const char* op : {"Softmax", "LogSoftmax"}) reg.add(schema(op, 1, 1, infer_softmax));
}
}  // namespace r1
