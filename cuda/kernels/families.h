// GPU kernel registration, one function per op family (kernels/<family>.cu); kernel_list.cc
// calls them all.
#pragma once
#include "r1/backend/kernel.h"

namespace r1::gpu {
void register_elementwise_math_kernels(KernelTable& t);
void register_elementwise_activation_kernels(KernelTable& t);
void register_elementwise_binary_kernels(KernelTable& t);
void register_softmax_kernels(KernelTable& t);
void register_layernorm_kernels(KernelTable& t);
}  // namespace r1::gpu
