// CPU kernels of the shape queries Shape and Size.
#include <algorithm>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void shape_op(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  int64_t s = 0, e = r;
  if (ctx.opset() >= 15) {
    s = ctx.attrs().get_int("start", 0);
    e = ctx.attrs().get_int("end", r);
  }
  auto fix = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  s = fix(s);
  e = fix(e);
  int64_t* p = y.data<int64_t>();
  for (int64_t i = s; i < e; ++i) p[i - s] = x.shape()[i];
}

void size_op(KernelContext& ctx) { ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel(); }

}  // namespace

void register_shape_size_kernels(KernelTable& t) {
  t.add("Shape", shape_op);
  t.add("Size", size_op);
}
}  // namespace r1::cpu
