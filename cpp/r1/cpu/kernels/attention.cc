// CPU kernels of r1::Attention. Being written.
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
void register_attention_kernels(KernelTable& t) {}
}  // namespace r1::cpu
