// CPU kernel registration, one function per op family (cpu/kernels/<family>.cc).
#pragma once
#include "r1/backend/kernel.h"

namespace r1::cpu {
void register_elementwise_kernels(KernelTable& t);
void register_shape_kernels(KernelTable& t);
void register_reduce_kernels(KernelTable& t);
void register_linalg_kernels(KernelTable& t);
void register_conv_kernels(KernelTable& t);
void register_rnn_kernels(KernelTable& t);
void register_fused_linear_kernels(KernelTable& t);
void register_fused_conv_kernels(KernelTable& t);
void register_fused_norm_kernels(KernelTable& t);
void register_attention_kernels(KernelTable& t);
}  // namespace r1::cpu
