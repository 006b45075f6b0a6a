// CPU kernel of r1::FusedConv: Y = act(Conv(X, W, B) + residual) (contract: cpp/r1/passes/README.md).
// It is the Conv kernel with its epilogue switched on: bias, residual and activation are applied to
// each output tile in registers before its only store (conv_gemm.cc, conv_depthwise.cc).
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/conv_s8_driver.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {
void fused_conv(KernelContext& ctx) { run_conv(ctx, true); }
}  // namespace

void register_fused_conv_kernels(KernelTable& t) {
  t.add("FusedConv", fused_conv, "r1").with_prepack(prepack_fused_conv);
}
}  // namespace r1::cpu
