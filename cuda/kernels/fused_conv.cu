// r1::FusedConv on the GPU (contract: cpp/r1/passes/README.md): Y = act(Conv(X, W, B) + residual), the
// forward conv of conv.cu with its epilogue (bias, residual, activation) switched on.
// CPU reference: cpp/r1/cpu/kernels/fused_conv.cc.
#include "conv_kernels.h"
#include "families.h"

namespace r1::gpu {
namespace {

bool fused_conv_supports(const Node& n) { return conv_supported(n, 4, true); }
void fused_conv(KernelContext& ctx) { run_conv(ctx, true); }

}  // namespace

void register_fused_conv_kernels(KernelTable& t) { t.add("FusedConv", fused_conv, "r1", 0, fused_conv_supports); }
}  // namespace r1::gpu
