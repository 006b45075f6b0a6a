// CPU kernels of the elementwise family, split by kind:
//   elementwise_unary.cc   float math, activations, Abs/Neg/Sign/Relu, Clip, IsNaN/IsInf, Not
//   elementwise_binary.cc  Add/Sub/Mul/Div/Pow/Mod/PRelu/BitShift, Max/Min/Sum/Mean, compare, logic
//   elementwise_cast.cc    Cast, CastLike, Where
// Shared loop skeletons (broadcasting, flat fast paths) are in elementwise_util.h.
#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
void register_elementwise_kernels(KernelTable& t) {
  register_elementwise_unary_kernels(t);
  register_elementwise_binary_kernels(t);
  register_elementwise_cast_kernels(t);
}
}  // namespace r1::cpu
