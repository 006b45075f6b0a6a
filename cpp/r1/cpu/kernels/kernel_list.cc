// The explicit list of CPU kernel families.
#include "r1/cpu/cpu_device.h"
#include "r1/cpu/kernels/families.h"

namespace r1 {
void register_cpu_kernels(KernelTable& t) {
  cpu::register_elementwise_kernels(t);
  cpu::register_shape_kernels(t);
  cpu::register_reduce_kernels(t);
  cpu::register_linalg_kernels(t);
  cpu::register_conv_kernels(t);
  cpu::register_rnn_kernels(t);
  cpu::register_fused_linear_kernels(t);
  cpu::register_fused_conv_kernels(t);
  cpu::register_fused_norm_kernels(t);
  cpu::register_attention_kernels(t);
}
}  // namespace r1
