// Schemas and shape inference of the conv family.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
void register_conv_ops(OpRegistry& reg) { (void)reg; }
}  // namespace r1
