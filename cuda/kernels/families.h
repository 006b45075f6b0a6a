// GPU kernel registration, one function per op family: kernels/<family>.cu (or .cc for host-only views)
// defines register_<family>_kernels, kernel_list.cc calls them all. The families and their file names
// are those of the schemas (cpp/r1/ir/ops/families.h); a family without GPU kernels (shape_size, nonzero)
// has no file here and runs on the CPU. The comment above each names its ops.
#pragma once
#include "r1/backend/kernel.h"

namespace r1::gpu {
// Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh,
// Acosh, Atanh, Erf, Abs, Neg, Sign, IsNaN, IsInf
void register_elementwise_unary_kernels(KernelTable& t);
// Relu, LeakyRelu, ThresholdedRelu, Tanh, Sigmoid, HardSigmoid, HardSwish, Elu, Selu, Celu, Softplus,
// Softsign, Mish, Clip
void register_activation_kernels(KernelTable& t);
// Gelu, r1::Gelu
void register_gelu_kernels(KernelTable& t);
// Add, Sub, Mul, Div, Pow, Mod, PRelu, Max, Min, Sum, Mean, Equal, Less, Greater, LessOrEqual, GreaterOrEqual
void register_elementwise_binary_kernels(KernelTable& t);
// And, Or, Xor, Not, BitShift
void register_logic_kernels(KernelTable& t);
// Where
void register_where_kernels(KernelTable& t);
// Cast, CastLike
void register_cast_kernels(KernelTable& t);
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
void register_views_kernels(KernelTable& t);
// Transpose
void register_transpose_kernels(KernelTable& t);
// Concat, Split
void register_concat_split_kernels(KernelTable& t);
// Slice
void register_slice_kernels(KernelTable& t);
// Pad
void register_pad_kernels(KernelTable& t);
// Expand, Tile
void register_expand_tile_kernels(KernelTable& t);
// Gather, GatherElements, GatherND, ScatterND, ScatterElements, Scatter
void register_gather_scatter_kernels(KernelTable& t);
// ConstantOfShape
void register_constant_of_shape_kernels(KernelTable& t);
// Range
void register_range_kernels(KernelTable& t);
// EyeLike
void register_eye_like_kernels(KernelTable& t);
// Trilu
void register_trilu_kernels(KernelTable& t);
// OneHot
void register_one_hot_kernels(KernelTable& t);
// CumSum
void register_cumsum_kernels(KernelTable& t);
// DepthToSpace, SpaceToDepth
void register_space_depth_kernels(KernelTable& t);
// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
// ReduceSumSquare, ArgMax, ArgMin
void register_reduce_kernels(KernelTable& t);
// Softmax, LogSoftmax
void register_softmax_kernels(KernelTable& t);
// Hardmax
void register_hardmax_kernels(KernelTable& t);
// TopK
void register_topk_kernels(KernelTable& t);
// LayerNormalization
void register_layernorm_kernels(KernelTable& t);
// BatchNormalization
void register_batchnorm_kernels(KernelTable& t);
// InstanceNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization
void register_normalization_kernels(KernelTable& t);
// r1::SkipLayerNorm
void register_skip_layernorm_kernels(KernelTable& t);
// MatMul, Gemm
void register_matmul_kernels(KernelTable& t);
// MatMulInteger
void register_matmul_integer_kernels(KernelTable& t);
// QuantizeLinear, DequantizeLinear, r1::QuantDequant, r1::GatherDequant
void register_quantize_kernels(KernelTable& t);
// Einsum
void register_einsum_kernels(KernelTable& t);
// r1::FusedMatMul
void register_fused_matmul_kernels(KernelTable& t);
// Conv
void register_conv_kernels(KernelTable& t);
// ConvTranspose
void register_conv_transpose_kernels(KernelTable& t);
// r1::FusedConv
void register_fused_conv_kernels(KernelTable& t);
// MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool
void register_pool_kernels(KernelTable& t);
// Resize, Upsample
void register_resize_kernels(KernelTable& t);
// RNN, GRU, LSTM
void register_rnn_kernels(KernelTable& t);
// r1::Attention
void register_attention_kernels(KernelTable& t);
}  // namespace r1::gpu
