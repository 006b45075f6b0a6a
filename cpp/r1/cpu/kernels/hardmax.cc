// CPU kernel of Hardmax: the softmax row kernel (softmax.h) with the first maximum of each row set to 1.
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/softmax.h"

namespace r1::cpu {

void register_hardmax_kernels(KernelTable& t) { t.add("Hardmax", softmax_kernel<kHardmax>); }
}  // namespace r1::cpu
