// Activations and Clip (float32 / float16 / bfloat16), from the template in elementwise.cuh (Gelu: gelu.cu).
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// Clip's bounds: attributes before opset 11, optional scalar inputs after. The inputs live in
// device memory, so the kernel reads them itself instead of the host copying them back.
template <class T>
struct ClipOp {
  const typename T::storage* lo;
  const typename T::storage* hi;
  float lo_attr, hi_attr;
  __device__ float operator()(float x) const {
    float l = lo ? T::load(*lo) : lo_attr;
    float h = hi ? T::load(*hi) : hi_attr;
    return x < l ? l : (x > h ? h : x);  // NaN passes through
  }
};

void clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "Clip", [&](auto tag) {
    using T = decltype(tag);
    ClipOp<T> op{nullptr, nullptr, -INFINITY, INFINITY};
    if (ctx.opset() < 11) {
      op.lo_attr = ctx.attrs().get_float("min", -INFINITY);
      op.hi_attr = ctx.attrs().get_float("max", INFINITY);
    } else {
      for (int i = 1; i <= 2; ++i) {
        if (!ctx.has_input(i) || ctx.input(i).numel() == 0) continue;
        check_same_dtype(ctx, x, ctx.input(i));
        (i == 1 ? op.lo : op.hi) = data_of<T>(ctx.input(i));
      }
    }
    launch_unary<T, T>(x, y, op, env.stream());
  });
}

}  // namespace

// in_place(1u): unary_kernel's thread i reads x[i] before it writes y[i] (Clip's bounds are other inputs).
void register_activation_kernels(KernelTable& t) {
  t.add("Relu", unary_entry<ops::Relu>).in_place(1u);
  t.add("Tanh", unary_entry<ops::Tanh>).in_place(1u);
  t.add("Sigmoid", unary_entry<ops::Sigmoid>).in_place(1u);
  t.add("Softsign", unary_entry<ops::Softsign>).in_place(1u);
  t.add("Softplus", unary_entry<ops::Softplus>).in_place(1u);
  t.add("Mish", unary_entry<ops::Mish>).in_place(1u);
  t.add("LeakyRelu", unary_entry<ops::LeakyRelu>).in_place(1u);
  t.add("Elu", unary_entry<ops::Elu>).in_place(1u);
  t.add("Selu", unary_entry<ops::Selu>).in_place(1u);
  t.add("Celu", unary_entry<ops::Celu>).in_place(1u);
  t.add("HardSigmoid", unary_entry<ops::HardSigmoid>).in_place(1u);
  t.add("HardSwish", unary_entry<ops::HardSwish>).in_place(1u);
  t.add("ThresholdedRelu", unary_entry<ops::ThresholdedRelu>).in_place(1u);
  t.add("Clip", clip).in_place(1u);
}
}  // namespace r1::gpu
