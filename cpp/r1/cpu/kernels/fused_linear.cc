// CPU kernels of r1::FusedMatMul. Being written.
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
void register_fused_linear_kernels(KernelTable& t) {}
}  // namespace r1::cpu
