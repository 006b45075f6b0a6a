// CPU kernel of Slice (a strided copy: copy_util.h).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::cpu {
namespace {

using namespace shape_ops;

void slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attrs().get_ints("starts");
    ends = ctx.attrs().get_ints("ends");
    axes = ctx.attrs().get_ints("axes");
  } else {
    starts = ctx.input(1).to_int64_vector();
    ends = ctx.input(2).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
    if (ctx.has_input(4)) steps = ctx.input(4).to_int64_vector();
  }
  Shape out;
  std::vector<int64_t> st, sp;
  slice_plan(x.shape(), starts, ends, axes, steps, &out, &st, &sp);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(x.rank());
  for (int i = 0; i < x.rank(); ++i) {
    base += st[i] * in_st[i];
    strides[i] = sp[i] * in_st[i];
  }
  size_t es = esize(x);
  strided_copy(static_cast<const char*>(x.raw()) + base * es, y.raw(), es, out, strides, ctx.pool());
}

}  // namespace

void register_slice_kernels(KernelTable& t) { t.add("Slice", slice); }
}  // namespace r1::cpu
