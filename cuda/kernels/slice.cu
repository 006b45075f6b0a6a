// Slice on the GPU: one strided gather (copy_util.cuh), any dtype; the plan (starts, ends, axes, steps
// are host inputs) is shape_ops::slice_plan, the one the CPU kernel and shape inference use.
#include <vector>

#include "copy_util.cuh"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

void slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attrs().get_ints("starts");
    ends = ctx.attrs().get_ints("ends");
    axes = ctx.attrs().get_ints("axes");
  } else {  // host inputs
    starts = ctx.input(1).to_int64_vector();
    ends = ctx.input(2).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
    if (ctx.has_input(4)) steps = ctx.input(4).to_int64_vector();
  }
  Shape out;
  std::vector<int64_t> st, sp;
  slice_plan(x.shape(), starts, ends, axes, steps, &out, &st, &sp);
  Tensor& y = ctx.output(0);
  R1_CHECK(y.shape() == out, InternalError)
      << "Slice: output " << shape_str(y.shape()) << " differs from the plan " << shape_str(out);
  if (y.numel() == 0) return;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(x.rank());
  for (int i = 0; i < x.rank(); ++i) {
    base += st[i] * in_st[i];
    strides[i] = sp[i] * in_st[i];
  }
  const size_t es = esize(x);
  KernelLaunch env(ctx);
  launch_strided(static_cast<const char*>(x.raw()) + base * static_cast<int64_t>(es), y.raw(), es, out, strides,
                 env.stream(), "Slice");
}

}  // namespace

void register_slice_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1, kIn2 = 1u << 2, kIn3 = 1u << 3, kIn4 = 1u << 4;
  t.add("Slice", slice, "", kIn1 | kIn2 | kIn3 | kIn4, supports_any_dtype);
}
}  // namespace r1::gpu
