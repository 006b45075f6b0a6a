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
}
}  // namespace r1
