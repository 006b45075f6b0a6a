// CPU kernels of Softmax and LogSoftmax (the row kernel: softmax.h, shared with Hardmax).
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/softmax.h"

namespace r1::cpu {

void register_softmax_kernels(KernelTable& t) {
  t.add("Softmax", softmax_kernel<kSoftmax>);
  t.add("LogSoftmax", softmax_kernel<kLogSoftmax>);
}
}  // namespace r1::cpu
