// GPU kernel registration, one function per op family (kernels/<family>.cu or .cc); kernel_list.cc
// calls them all.
#pragma once
#include "r1/backend/kernel.h"

namespace r1::gpu {
void register_elementwise_math_kernels(KernelTable& t);
void register_elementwise_activation_kernels(KernelTable& t);
void register_elementwise_binary_kernels(KernelTable& t);
void register_softmax_kernels(KernelTable& t);
void register_layernorm_kernels(KernelTable& t);
void register_gemm_kernels(KernelTable& t);        // gemm.cu: MatMul, Gemm, r1::FusedMatMul
void register_view_kernels(KernelTable& t);        // views.cc: Reshape, Flatten, Squeeze, Unsqueeze, Identity
void register_data_kernels(KernelTable& t);        // data_movement.cu: Transpose, Concat, Slice, Split, Expand...
void register_index_kernels(KernelTable& t);       // gather.cu: Gather, GatherElements, Scatter*
void register_reduce_kernels(KernelTable& t);      // reduce.cu: Reduce*, ArgMax, ArgMin
void register_conv_kernels(KernelTable& t);        // conv.cu: Conv, r1::FusedConv, BatchNormalization
void register_pool_kernels(KernelTable& t);        // pool.cu: MaxPool, AveragePool, Global*Pool
void register_attention_kernels(KernelTable& t);   // attention.cu: r1::Attention
void register_fused_norm_kernels(KernelTable& t);  // fused_norm.cu: r1::SkipLayerNorm, r1::Gelu
void register_logic_kernels(KernelTable& t);       // logic.cu: And, Or, Xor, Not, BitShift
void register_misc_kernels(KernelTable& t);  // misc.cu: Hardmax, CumSum, TopK, OneHot, generators, Depth/SpaceToDepth
void register_norm_extra_kernels(KernelTable& t);      // norm_extra.cu: Group/Instance/Lp/MVN normalization, LpPool
void register_resize_kernels(KernelTable& t);          // resize.cu: Resize, Upsample
void register_conv_transpose_kernels(KernelTable& t);  // conv_transpose.cu: ConvTranspose
void register_rnn_kernels(KernelTable& t);             // rnn.cu: RNN, GRU, LSTM
void register_einsum_kernels(KernelTable& t);          // einsum.cu: Einsum
void register_matmul_integer_kernels(KernelTable& t);  // matmul_integer.cu: MatMulInteger
}  // namespace r1::gpu
