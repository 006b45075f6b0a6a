// The explicit list of CPU kernel families (families.h says which ops each holds).
#include "r1/cpu/cpu_device.h"
#include "r1/cpu/kernels/families.h"

namespace r1 {
void register_cpu_kernels(KernelTable& t) {
  cpu::register_elementwise_unary_kernels(t);
  cpu::register_activation_kernels(t);
  cpu::register_gelu_kernels(t);
  cpu::register_elementwise_binary_kernels(t);
  cpu::register_logic_kernels(t);
  cpu::register_where_kernels(t);
  cpu::register_cast_kernels(t);
  cpu::register_views_kernels(t);
  cpu::register_transpose_kernels(t);
  cpu::register_concat_split_kernels(t);
  cpu::register_slice_kernels(t);
  cpu::register_pad_kernels(t);
  cpu::register_expand_tile_kernels(t);
  cpu::register_gather_scatter_kernels(t);
  cpu::register_shape_size_kernels(t);
  cpu::register_constant_of_shape_kernels(t);
  cpu::register_range_kernels(t);
  cpu::register_eye_like_kernels(t);
  cpu::register_trilu_kernels(t);
  cpu::register_one_hot_kernels(t);
  cpu::register_control_flow_kernels(t);
  cpu::register_cumsum_kernels(t);
  cpu::register_nonzero_kernels(t);
  cpu::register_space_depth_kernels(t);
  cpu::register_reduce_kernels(t);
  cpu::register_softmax_kernels(t);
  cpu::register_hardmax_kernels(t);
  cpu::register_topk_kernels(t);
  cpu::register_detection_kernels(t);
  cpu::register_signal_kernels(t);
  cpu::register_selection_kernels(t);
  cpu::register_sequence_axis_kernels(t);
  cpu::register_linalg_kernels(t);
  cpu::register_image_geometry_kernels(t);
  cpu::register_losses_kernels(t);
  cpu::register_rms_rotary_kernels(t);
  cpu::register_onnx_attention_kernels(t);
  cpu::register_recurrent_state_kernels(t);
  cpu::register_quantize_kernels(t);
  cpu::register_deform_conv_kernels(t);
  cpu::register_tfidf_kernels(t);
  cpu::register_sequence_kernels(t);
  cpu::register_strings_kernels(t);
  cpu::register_random_kernels(t);
  cpu::register_conv_integer_kernels(t);
  cpu::register_layernorm_kernels(t);
  cpu::register_batchnorm_kernels(t);
  cpu::register_normalization_kernels(t);
  cpu::register_skip_layernorm_kernels(t);
  cpu::register_matmul_kernels(t);
  cpu::register_matmul_integer_kernels(t);
  cpu::register_einsum_kernels(t);
  cpu::register_fused_matmul_kernels(t);
  cpu::register_conv_kernels(t);
  cpu::register_conv_transpose_kernels(t);
  cpu::register_fused_conv_kernels(t);
  cpu::register_pool_kernels(t);
  cpu::register_resize_kernels(t);
  cpu::register_rnn_kernels(t);
  cpu::register_attention_kernels(t);
}
}  // namespace r1
