// Schema registration, one function per op family: ir/ops/<family>.cc defines register_<family>_ops,
// op_list.cc calls them all. A family has the same file name in cpu/kernels/ and cuda/kernels/
// (where that backend has kernels for it); the comment above each names its ops. Ops in domain
// "r1" are created by the compiler: cpp/r1/passes/README.md gives their contracts.
#pragma once
#include "r1/ir/op_registry.h"

namespace r1 {
// Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh,
// Acosh, Atanh, Erf, Abs, Neg, Sign, IsNaN, IsInf
void register_elementwise_unary_ops(OpRegistry& reg);
// Relu, LeakyRelu, ThresholdedRelu, Tanh, Sigmoid, HardSigmoid, HardSwish, Elu, Selu, Celu, Softplus,
// Softsign, Mish, Swish, Shrink, Clip
void register_activation_ops(OpRegistry& reg);
// Gelu, r1::Gelu
void register_gelu_ops(OpRegistry& reg);
// Add, Sub, Mul, Div, Pow, Mod, PRelu, Max, Min, Sum, Mean, Equal, Less, Greater, LessOrEqual, GreaterOrEqual
void register_elementwise_binary_ops(OpRegistry& reg);
// And, Or, Xor, Not, BitShift, BitwiseAnd, BitwiseOr, BitwiseXor, BitwiseNot
void register_logic_ops(OpRegistry& reg);
// Where
void register_where_ops(OpRegistry& reg);
// Cast, CastLike, BitCast
void register_cast_ops(OpRegistry& reg);
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
void register_views_ops(OpRegistry& reg);
// Transpose
void register_transpose_ops(OpRegistry& reg);
// Concat, Split
void register_concat_split_ops(OpRegistry& reg);
// Slice
void register_slice_ops(OpRegistry& reg);
// Pad
void register_pad_ops(OpRegistry& reg);
// Expand, Tile
void register_expand_tile_ops(OpRegistry& reg);
// Gather, GatherElements, GatherND, ScatterND, ScatterElements, Scatter
void register_gather_scatter_ops(OpRegistry& reg);
// Shape, Size
void register_shape_size_ops(OpRegistry& reg);
// ConstantOfShape
void register_constant_of_shape_ops(OpRegistry& reg);
// Range
void register_range_ops(OpRegistry& reg);
// EyeLike
void register_eye_like_ops(OpRegistry& reg);
// Trilu
void register_trilu_ops(OpRegistry& reg);
// If, Loop, Scan
void register_control_flow_ops(OpRegistry& reg);
// OneHot
void register_one_hot_ops(OpRegistry& reg);
// CumSum, CumProd
void register_cumsum_ops(OpRegistry& reg);
// NonZero
void register_nonzero_ops(OpRegistry& reg);
// DepthToSpace, SpaceToDepth
void register_space_depth_ops(OpRegistry& reg);
// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
// ReduceSumSquare, ArgMax, ArgMin
void register_reduce_ops(OpRegistry& reg);
// Softmax, LogSoftmax
void register_softmax_ops(OpRegistry& reg);
// Hardmax
void register_hardmax_ops(OpRegistry& reg);
// TopK
void register_topk_ops(OpRegistry& reg);
// NonMaxSuppression, RoiAlign, MaxRoiPool
void register_detection_ops(OpRegistry& reg);
// DFT, STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix
void register_signal_ops(OpRegistry& reg);
// Compress, Unique
void register_selection_ops(OpRegistry& reg);
// ReverseSequence, TensorScatter
void register_sequence_axis_ops(OpRegistry& reg);
// Det
void register_linalg_ops(OpRegistry& reg);
// CenterCropPad, Col2Im, MaxUnpool, LRN, GridSample, AffineGrid
void register_image_geometry_ops(OpRegistry& reg);
// NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void register_losses_ops(OpRegistry& reg);
// RMSNormalization, RotaryEmbedding
void register_rms_rotary_ops(OpRegistry& reg);
// Attention (the ONNX op; r1::Attention is the attention family)
void register_onnx_attention_ops(OpRegistry& reg);
// LinearAttention, CausalConvWithState
void register_recurrent_state_ops(OpRegistry& reg);
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul, r1::QuantDequant
void register_quantize_ops(OpRegistry& reg);
// DeformConv
void register_deform_conv_ops(OpRegistry& reg);
// TfIdfVectorizer
void register_tfidf_ops(OpRegistry& reg);
// SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt, SequenceErase, SequenceLength,
// SplitToSequence, ConcatFromSequence, SequenceMap, Optional, OptionalHasElement, OptionalGetElement
void register_sequence_ops(OpRegistry& reg);
// StringConcat, StringSplit, RegexFullMatch, StringNormalizer
void register_strings_ops(OpRegistry& reg);
// RandomNormal, RandomUniform, RandomNormalLike, RandomUniformLike, Bernoulli, Multinomial, SwiGLU
void register_random_ops(OpRegistry& reg);
// ConvInteger, QLinearConv
void register_conv_integer_ops(OpRegistry& reg);
// LayerNormalization
void register_layernorm_ops(OpRegistry& reg);
// BatchNormalization
void register_batchnorm_ops(OpRegistry& reg);
// InstanceNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization
void register_normalization_ops(OpRegistry& reg);
// r1::SkipLayerNorm
void register_skip_layernorm_ops(OpRegistry& reg);
// MatMul, Gemm
void register_matmul_ops(OpRegistry& reg);
// MatMulInteger
void register_matmul_integer_ops(OpRegistry& reg);
// Einsum
void register_einsum_ops(OpRegistry& reg);
// r1::FusedMatMul
void register_fused_matmul_ops(OpRegistry& reg);
// Conv
void register_conv_ops(OpRegistry& reg);
// ConvTranspose
void register_conv_transpose_ops(OpRegistry& reg);
// r1::FusedConv
void register_fused_conv_ops(OpRegistry& reg);
// MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool
void register_pool_ops(OpRegistry& reg);
// Resize, Upsample
void register_resize_ops(OpRegistry& reg);
// RNN, GRU, LSTM
void register_rnn_ops(OpRegistry& reg);
// r1::Attention
void register_attention_ops(OpRegistry& reg);
}  // namespace r1
