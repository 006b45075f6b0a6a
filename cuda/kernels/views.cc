// View kernels of the GPU backend: Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference).
// Their output is the input's device memory under another shape, with no copy and no launch:
//
//   ctx.set_output(0, Tensor(ctx.output_dtype(0), ctx.output_shape(0), in.buffer(), in.byte_offset()));
//
// Shape inference has run before the kernel, so the output shape is normally known; where it is not
// (a shape that only the kernel's host inputs decide), it is computed here from the same shape_ops
// functions the CPU kernels use. Host-only C++: nothing here launches a kernel (Dropout's optional mask
// is one memset).
#include <vector>

#include "../device.h"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

// Makes output 0 a view of input 0 with `shape` (the inferred one when known).
void set_view(KernelContext& ctx, const Shape& computed) {
  const Tensor& x = ctx.input(0);
  const Shape& shape = ctx.output_shape_known(0) ? ctx.output_shape(0) : computed;
  DType dt = ctx.output_dtype(0) == DType::Undefined ? x.dtype() : ctx.output_dtype(0);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  R1_CHECK(n == x.numel(), InputError) << ctx.node().op_type << " (node " << ctx.node().label() << "): output shape "
                                       << shape_str(shape) << " does not hold the " << x.numel()
                                       << " elements of input " << shape_str(x.shape());
  R1_CHECK(dt == x.dtype(), InternalError) << ctx.node().op_type << ": output dtype " << dtype_name(dt)
                                           << " differs from the input's " << dtype_name(x.dtype());
  ctx.set_output(0, Tensor(dt, shape, x.buffer(), x.byte_offset()));
}

void reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape s;
  if (!ctx.output_shape_known(0)) {
    std::vector<int64_t> spec = ctx.input(1).to_int64_vector();  // host input
    bool allowzero = ctx.opset() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
    s = reshape_shape(&x.shape(), spec, allowzero);
  }
  set_view(ctx, s);
}

void flatten(KernelContext& ctx) {
  Shape s;
  if (!ctx.output_shape_known(0)) s = flatten_shape(ctx.input(0).shape(), ctx.attrs().get_int("axis", 1));
  set_view(ctx, s);
}

void squeeze(KernelContext& ctx) {
  Shape s;
  if (!ctx.output_shape_known(0)) {
    std::vector<int64_t> axes;
    bool has_axes;
    if (ctx.opset() >= 13) {
      has_axes = ctx.has_input(1);
      if (has_axes) axes = ctx.input(1).to_int64_vector();  // host input
    } else {
      has_axes = ctx.attrs().has("axes");
      axes = ctx.attrs().get_ints("axes");
    }
    s = squeeze_shape(ctx.input(0).shape(), axes, has_axes);
  }
  set_view(ctx, s);
}

void unsqueeze(KernelContext& ctx) {
  Shape s;
  if (!ctx.output_shape_known(0)) {
    std::vector<int64_t> axes =
        ctx.opset() >= 13 ? ctx.input(1).to_int64_vector() : ctx.attrs().get_ints("axes");  // host input
    s = unsqueeze_shape(ctx.input(0).shape(), axes);
  }
  set_view(ctx, s);
}

void identity(KernelContext& ctx) { set_view(ctx, ctx.input(0).shape()); }

// Inference only (shape inference rejects training mode): output 0 is a view of the input, the
// optional mask is all true.
void dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x);
  if (ctx.has_output(1)) {
    Tensor& m = ctx.output(1);
    if (m.nbytes()) {
      KernelLaunch env(ctx);
      R1_GPU_CHECK(gpuMemsetAsync(m.raw(), 1, m.nbytes(), env.stream()));
    }
  }
}

}  // namespace

void register_views_kernels(KernelTable& t) {
  constexpr uint32_t kIn1Host = 1u << 1;
  t.add("Reshape", reshape, "", kIn1Host, supports_any_dtype);
  t.add("Flatten", flatten, "", 0, supports_any_dtype);
  t.add("Squeeze", squeeze, "", kIn1Host, supports_any_dtype);
  t.add("Unsqueeze", unsqueeze, "", kIn1Host, supports_any_dtype);
  t.add("Identity", identity, "", 0, supports_any_dtype);
  t.add("Dropout", dropout, "", 0, supports_any_dtype);
}

}  // namespace r1::gpu
