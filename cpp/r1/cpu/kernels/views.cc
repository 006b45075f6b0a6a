// CPU kernels of the view ops: Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference):
// the output shares the input's memory.
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::cpu {
namespace {

using namespace shape_ops;

void reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> spec = ctx.input(1).to_int64_vector();
  bool allowzero = ctx.opset() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  ctx.set_output(0, x.reshape(reshape_shape(&x.shape(), spec, allowzero)));
}

void flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x.reshape(flatten_shape(x.shape(), ctx.attrs().get_int("axis", 1))));
}

void squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes;
  bool has_axes;
  if (ctx.opset() >= 13) {
    has_axes = ctx.has_input(1);
    if (has_axes) axes = ctx.input(1).to_int64_vector();
  } else {
    has_axes = ctx.attrs().has("axes");
    axes = ctx.attrs().get_ints("axes");
  }
  ctx.set_output(0, x.reshape(squeeze_shape(x.shape(), axes, has_axes)));
}

void unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.opset() >= 13 ? ctx.input(1).to_int64_vector() : ctx.attrs().get_ints("axes");
  ctx.set_output(0, x.reshape(unsqueeze_shape(x.shape(), axes)));
}

void identity(KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); }

void dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x);
  if (ctx.has_output(1)) {
    Tensor& m = ctx.output(1);
    if (m.numel()) std::memset(m.raw(), 1, m.nbytes());
  }
}

}  // namespace

void register_views_kernels(KernelTable& t) {
  t.add("Reshape", reshape);
  t.add("Flatten", flatten);
  t.add("Squeeze", squeeze);
  t.add("Unsqueeze", unsqueeze);
  t.add("Identity", identity);
  t.add("Dropout", dropout);
}
}  // namespace r1::cpu
