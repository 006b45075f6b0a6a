// The explicit list of GPU kernel families (the same list for CUDA and HIP; families.h says which ops
// each holds).
#include "../device.h"
#include "families.h"

namespace r1::gpu {
void register_gpu_kernels(KernelTable& t) {
  register_elementwise_unary_kernels(t);
  register_activation_kernels(t);
  register_gelu_kernels(t);
  register_elementwise_binary_kernels(t);
  register_logic_kernels(t);
  register_where_kernels(t);
  register_cast_kernels(t);
  register_views_kernels(t);
  register_transpose_kernels(t);
  register_concat_split_kernels(t);
  register_slice_kernels(t);
  register_pad_kernels(t);
  register_expand_tile_kernels(t);
  register_gather_scatter_kernels(t);
  register_constant_of_shape_kernels(t);
  register_range_kernels(t);
  register_eye_like_kernels(t);
  register_trilu_kernels(t);
  register_one_hot_kernels(t);
  register_cumsum_kernels(t);
  register_space_depth_kernels(t);
  register_reduce_kernels(t);
  register_softmax_kernels(t);
  register_hardmax_kernels(t);
  register_topk_kernels(t);
  register_layernorm_kernels(t);
  register_batchnorm_kernels(t);
  register_normalization_kernels(t);
  register_skip_layernorm_kernels(t);
  register_matmul_kernels(t);
  register_matmul_integer_kernels(t);
  register_quantize_kernels(t);
  register_einsum_kernels(t);
  register_fused_matmul_kernels(t);
  register_conv_kernels(t);
  register_conv_transpose_kernels(t);
  register_fused_conv_kernels(t);
  register_pool_kernels(t);
  register_resize_kernels(t);
  register_rnn_kernels(t);
  register_attention_kernels(t);
}
}  // namespace r1::gpu
