// Elementwise math functions (float32 / float16 / bfloat16), from the template in elementwise.cuh.
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
void register_elementwise_math_kernels(KernelTable& t) {
  t.add("Exp", unary_entry<ops::Exp>);
  t.add("Log", unary_entry<ops::Log>);
  t.add("Sqrt", unary_entry<ops::Sqrt>);
  t.add("Reciprocal", unary_entry<ops::Reciprocal>);
  t.add("Floor", unary_entry<ops::Floor>);
  t.add("Ceil", unary_entry<ops::Ceil>);
  t.add("Round", unary_entry<ops::Round>);
  t.add("Sin", unary_entry<ops::Sin>);
  t.add("Cos", unary_entry<ops::Cos>);
  t.add("Tan", unary_entry<ops::Tan>);
  t.add("Asin", unary_entry<ops::Asin>);
  t.add("Acos", unary_entry<ops::Acos>);
  t.add("Atan", unary_entry<ops::Atan>);
  t.add("Sinh", unary_entry<ops::Sinh>);
  t.add("Cosh", unary_entry<ops::Cosh>);
  t.add("Asinh", unary_entry<ops::Asinh>);
  t.add("Acosh", unary_entry<ops::Acosh>);
  t.add("Atanh", unary_entry<ops::Atanh>);
  t.add("Erf", unary_entry<ops::Erf>);
  t.add("Abs", unary_entry<ops::Abs>);
  t.add("Neg", unary_entry<ops::Neg>);
  t.add("Sign", unary_entry<ops::Sign>);
  t.add("IsNaN", unary_entry<ops::IsNaN, Bool>);
  t.add("IsInf", unary_entry<ops::IsInf, Bool>);
}
}  // namespace r1::gpu
