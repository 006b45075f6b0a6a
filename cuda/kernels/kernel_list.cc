// The explicit list of GPU kernel families (the same list for CUDA and HIP).
#include "../device.h"
#include "families.h"

namespace r1::gpu {
void register_gpu_kernels(KernelTable& t) {
  register_elementwise_math_kernels(t);
  register_elementwise_activation_kernels(t);
  register_elementwise_binary_kernels(t);
  register_softmax_kernels(t);
  register_layernorm_kernels(t);
  register_gemm_kernels(t);
  register_view_kernels(t);
  register_data_kernels(t);
  register_index_kernels(t);
  register_reduce_kernels(t);
  register_conv_kernels(t);
  register_pool_kernels(t);
  register_attention_kernels(t);
  register_fused_norm_kernels(t);
  register_logic_kernels(t);
  register_misc_kernels(t);
  register_norm_extra_kernels(t);
  register_resize_kernels(t);
  register_conv_transpose_kernels(t);
  register_rnn_kernels(t);
  register_einsum_kernels(t);
  register_matmul_integer_kernels(t);
}
}  // namespace r1::gpu
