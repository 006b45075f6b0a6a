// Broadcasting binary and variadic ops (float32 / float16 / bfloat16; comparisons give bool),
// from the template in elementwise.cuh.
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
// in_place(3u) for Add/Sub/Mul/Div: binary_kernel's thread i reads a[ia], b[ib] before it writes y[i], and
// an input sharing the output's slot has the output's shape (ia == i). Not the variadic ops (they
// accumulate into the output).
void register_elementwise_binary_kernels(KernelTable& t) {
  t.add("Add", binary_entry<ops::Add>).in_place(3u);
  t.add("Sub", binary_entry<ops::Sub>).in_place(3u);
  t.add("Mul", binary_entry<ops::Mul>).in_place(3u);
  t.add("Div", binary_entry<ops::Div>).in_place(3u);
  t.add("Pow", binary_entry<ops::Pow>);
  t.add("Mod", binary_entry<ops::Mod>);
  t.add("PRelu", binary_entry<ops::PRelu>);
  t.add("Equal", binary_entry<ops::Equal, Bool>);
  t.add("Less", binary_entry<ops::Less, Bool>);
  t.add("Greater", binary_entry<ops::Greater, Bool>);
  t.add("LessOrEqual", binary_entry<ops::LessOrEqual, Bool>);
  t.add("GreaterOrEqual", binary_entry<ops::GreaterOrEqual, Bool>);
  t.add("Max", variadic_entry<ops::Max>);
  t.add("Min", variadic_entry<ops::Min>);
  t.add("Sum", variadic_entry<ops::Add>);
  t.add("Mean", variadic_entry<ops::Add, true>);
}
}  // namespace r1::gpu
