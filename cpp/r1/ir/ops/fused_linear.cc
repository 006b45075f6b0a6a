// Schemas of r1::FusedMatMul (contract: cpp/r1/passes/README.md). Being written.
#include "r1/ir/ops/families.h"

namespace r1 {
void register_fused_linear_ops(OpRegistry& reg) {}
}  // namespace r1
