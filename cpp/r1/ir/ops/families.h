// Schema registration, one function per op family (ir/ops/<family>.cc). op_list.cc calls them all.
#pragma once
#include "r1/ir/op_registry.h"

namespace r1 {
void register_elementwise_ops(OpRegistry& reg);  // unary/binary math, activations, compare, logic, Cast, Where
void register_shape_ops(OpRegistry& reg);        // Reshape, Transpose, Concat, Gather, Slice, Shape, ...
void register_reduce_ops(OpRegistry& reg);       // Reduce*, ArgMax, Softmax, LayerNorm, BatchNorm, ...
void register_linalg_ops(OpRegistry& reg);       // MatMul, Gemm
void register_conv_ops(OpRegistry& reg);         // Conv, ConvTranspose, pools, Resize
void register_rnn_ops(OpRegistry& reg);          // LSTM, GRU, RNN
// Ops the compiler creates (domain "r1"); cpp/r1/passes/README.md gives their contracts.
void register_fused_linear_ops(OpRegistry& reg);  // r1::FusedMatMul
void register_fused_conv_ops(OpRegistry& reg);    // r1::FusedConv
void register_fused_norm_ops(OpRegistry& reg);    // r1::SkipLayerNorm, r1::Gelu
void register_attention_ops(OpRegistry& reg);     // r1::Attention
}  // namespace r1
