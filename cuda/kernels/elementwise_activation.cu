// Activations and Clip (float32 / float16 / bfloat16), from the template in elementwise.cuh.
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

void register_elementwise_activation_kernels(KernelTable& t) {
  t.add("Relu", unary_entry<ops::Relu>);
  t.add("Tanh", unary_entry<ops::Tanh>);
  t.add("Sigmoid", unary_entry<ops::Sigmoid>);
  t.add("Softsign", unary_entry<ops::Softsign>);
  t.add("Softplus", unary_entry<ops::Softplus>);
  t.add("Mish", unary_entry<ops::Mish>);
  t.add("LeakyRelu", unary_entry<ops::LeakyRelu>);
  t.add("Elu", unary_entry<ops::Elu>);
  t.add("Selu", unary_entry<ops::Selu>);
  t.add("Celu", unary_entry<ops::Celu>);
  t.add("HardSigmoid", unary_entry<ops::HardSigmoid>);
  t.add("HardSwish", unary_entry<ops::HardSwish>);
  t.add("ThresholdedRelu", unary_entry<ops::ThresholdedRelu>);
  t.add("Gelu", unary_entry<ops::Gelu>);
  t.add("Clip", clip);
}
}  // namespace r1::gpu
