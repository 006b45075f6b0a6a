// The explicit list of op families known to the compiler (families.h says which ops each holds).
#include "r1/ir/ops/families.h"

namespace r1 {
void register_all_ops(OpRegistry& reg) {
  register_elementwise_unary_ops(reg);
  register_activation_ops(reg);
  register_gelu_ops(reg);
  register_elementwise_binary_ops(reg);
  register_logic_ops(reg);
  register_where_ops(reg);
  register_cast_ops(reg);
  register_views_ops(reg);
  register_transpose_ops(reg);
  register_concat_split_ops(reg);
  register_slice_ops(reg);
  register_pad_ops(reg);
  register_expand_tile_ops(reg);
  register_gather_scatter_ops(reg);
  register_shape_size_ops(reg);
  register_constant_of_shape_ops(reg);
  register_range_ops(reg);
  register_eye_like_ops(reg);
  register_trilu_ops(reg);
  register_one_hot_ops(reg);
  register_control_flow_ops(reg);
  register_cumsum_ops(reg);
  register_nonzero_ops(reg);
  register_space_depth_ops(reg);
  register_reduce_ops(reg);
  register_softmax_ops(reg);
  register_hardmax_ops(reg);
  register_topk_ops(reg);
  register_detection_ops(reg);
  register_signal_ops(reg);
  register_selection_ops(reg);
  register_sequence_axis_ops(reg);
  register_linalg_ops(reg);
  register_image_geometry_ops(reg);
  register_losses_ops(reg);
  register_rms_rotary_ops(reg);
  register_onnx_attention_ops(reg);
  register_recurrent_state_ops(reg);
  register_quantize_ops(reg);
  register_deform_conv_ops(reg);
  register_tfidf_ops(reg);
  register_sequence_ops(reg);
  register_strings_ops(reg);
  register_random_ops(reg);
  register_conv_integer_ops(reg);
  register_layernorm_ops(reg);
  register_batchnorm_ops(reg);
  register_normalization_ops(reg);
  register_skip_layernorm_ops(reg);
  register_matmul_ops(reg);
  register_matmul_integer_ops(reg);
  register_einsum_ops(reg);
  register_fused_matmul_ops(reg);
  register_conv_ops(reg);
  register_conv_transpose_ops(reg);
  register_fused_conv_ops(reg);
  register_pool_ops(reg);
  register_resize_ops(reg);
  register_rnn_ops(reg);
  register_attention_ops(reg);
}
}  // namespace r1
