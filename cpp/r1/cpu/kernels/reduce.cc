// CPU kernels of the reduce family.
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
void register_reduce_kernels(KernelTable& t) { (void)t; }
}  // namespace r1::cpu
