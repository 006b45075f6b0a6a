// The explicit list of op families known to the compiler.
#include "r1/ir/ops/families.h"

namespace r1 {
void register_all_ops(OpRegistry& reg) {
  register_elementwise_ops(reg);
  register_shape_ops(reg);
  register_reduce_ops(reg);
  register_linalg_ops(reg);
  register_conv_ops(reg);
  register_rnn_ops(reg);
  register_fused_linear_ops(reg);
  register_fused_conv_ops(reg);
  register_fused_norm_ops(reg);
  register_attention_ops(reg);
}
}  // namespace r1
