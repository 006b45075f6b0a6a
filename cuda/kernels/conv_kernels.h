// Internal declarations of the conv family's GPU kernels: the forward conv of conv.cu, shared by Conv and
// r1::FusedConv (fused_conv.cu).
#pragma once
#include <cstddef>

#include "r1/backend/kernel.h"

namespace r1::gpu {

// Conv / FusedConv: X, W, B?, residual? and Y share one float dtype; spatial rank 1..3; no packed W.
bool conv_supported(const Node& n, size_t max_inputs, bool fused);

// Runs Conv (fused = false) or r1::FusedConv (fused = true: the residual input and the activation).
void run_conv(KernelContext& ctx, bool fused);

}  // namespace r1::gpu
