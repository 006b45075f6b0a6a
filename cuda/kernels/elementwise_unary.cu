// Unary elementwise math (float32 / float16 / bfloat16; IsNaN / IsInf give bool), from the template in
// elementwise.cuh.
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
// in_place(1u): unary_kernel's thread i reads x[i] before it writes y[i].
void register_elementwise_unary_kernels(KernelTable& t) {
  t.add("Exp", unary_entry<ops::Exp>).in_place(1u);
  t.add("Log", unary_entry<ops::Log>).in_place(1u);
  t.add("Sqrt", unary_entry<ops::Sqrt>).in_place(1u);
  t.add("Reciprocal", unary_entry<ops::Reciprocal>).in_place(1u);
  t.add("Floor", unary_entry<ops::Floor>).in_place(1u);
  t.add("Ceil", unary_entry<ops::Ceil>).in_place(1u);
  t.add("Round", unary_entry<ops::Round>).in_place(1u);
  t.add("Sin", unary_entry<ops::Sin>).in_place(1u);
  t.add("Cos", unary_entry<ops::Cos>).in_place(1u);
  t.add("Tan", unary_entry<ops::Tan>).in_place(1u);
  t.add("Asin", unary_entry<ops::Asin>).in_place(1u);
  t.add("Acos", unary_entry<ops::Acos>).in_place(1u);
  t.add("Atan", unary_entry<ops::Atan>).in_place(1u);
  t.add("Sinh", unary_entry<ops::Sinh>).in_place(1u);
  t.add("Cosh", unary_entry<ops::Cosh>).in_place(1u);
  t.add("Asinh", unary_entry<ops::Asinh>).in_place(1u);
  t.add("Acosh", unary_entry<ops::Acosh>).in_place(1u);
  t.add("Atanh", unary_entry<ops::Atanh>).in_place(1u);
  t.add("Erf", unary_entry<ops::Erf>).in_place(1u);
  t.add("Abs", unary_entry<ops::Abs>).in_place(1u);
  t.add("Neg", unary_entry<ops::Neg>).in_place(1u);
  t.add("Sign", unary_entry<ops::Sign>).in_place(1u);
  t.add("IsNaN", unary_entry<ops::IsNaN, Bool>);
  t.add("IsInf", unary_entry<ops::IsInf, Bool>);
}
}  // namespace r1::gpu
