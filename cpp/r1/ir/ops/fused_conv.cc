// Schemas of r1::FusedConv (contract: cpp/r1/passes/README.md). Being written.
#include "r1/ir/ops/families.h"

namespace r1 {
void register_fused_conv_ops(OpRegistry& reg) {}
}  // namespace r1
