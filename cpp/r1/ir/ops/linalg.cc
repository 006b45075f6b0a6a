// Schemas and shape inference of the linalg family.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
void register_linalg_ops(OpRegistry& reg) { (void)reg; }
}  // namespace r1
