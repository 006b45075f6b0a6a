// Schemas and shape inference of the reduce family.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
void register_reduce_ops(OpRegistry& reg) { (void)reg; }
}  // namespace r1
