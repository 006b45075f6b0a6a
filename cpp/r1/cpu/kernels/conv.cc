// CPU kernel of Conv (the forward conv itself is in conv_gemm.cc / conv_depthwise.cc, shared with
// r1::FusedConv: fused_conv.cc). 16-bit floats are computed in fp32; precision="bf16" uses bf16 products
// where it applies (conv_bf16*.cc, conv_gemm.cc), precision="int8" int8 products (conv_s8*.cc).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/conv_s8_driver.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {
namespace {

// ---------------------------------------------------------------- Conv
// The residual of r1::FusedConv made the output larger than the conv (the Add broadcast a size-1 conv
// dim against it; conv_fusion cannot always rule that out when spatial dims are unknown): the conv
// goes to scratch and y = act(expand(conv) + expand(residual)). Rare, so correct rather than fast.
void conv_with_enlarging_residual(ConvArgs a, const Shape& conv_shape, const Tensor& r, const float* rp,
                                  const FloatOut& fy, const Shape& ys, ThreadPool& pool) {
  ConvEpilogue ep = a.ep;
  std::vector<float> conv_out(static_cast<size_t>(numel(conv_shape)));
  a.ep.act = ConvAct::kNone;
  a.residual = nullptr;
  a.y = conv_out.data();
  conv_forward_f32(a, pool);
  std::vector<float> res(static_cast<size_t>(numel(ys)));
  broadcast_floats(conv_out.data(), conv_shape, ys, fy.p, pool, "FusedConv output");
  broadcast_floats(rp, r.shape(), ys, res.data(), pool, "FusedConv residual");
  int64_t n = numel(ys);
  epilogue_row_ref(fy.p, n, 0.f, res.data(), ep);
}
}  // namespace

void run_conv(KernelContext& ctx, bool fused) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  const Shape& xs = x.shape();
  Shape in_sp(xs.begin() + 2, xs.end());
  ConvArgs a;
  a.geom = conv_geom::forward(ctx.attrs(), in_sp, conv_kernel_dims(ctx, w.shape()), false);
  if (fused) parse_conv_activation(ctx.attrs(), &a.ep);
  // precision="bf16" (set by the precision pass): bf16 products, fp32 accumulation and epilogue.
  const std::string precision = ctx.attrs().get_string("precision", "fp32");
  R1_CHECK(precision == "fp32" || precision == "bf16" || precision == "int8", ModelError)
      << ctx.node().label() << ": precision must be 'fp32', 'bf16' or 'int8', got '" << precision << "'";
  if (y.numel() == 0) return;
  ThreadPool& pool = ctx.pool();
  FloatIn fx = float_input(x, pool);
  // An int8 weight (FusedConv precision="int8", quantized at compile time; its scales are input 4) is read
  // by the int8 conv only.
  const bool int8_weight = w.dtype() == DType::Int8;
  FloatIn fw;
  if (!int8_weight) fw = float_input(w, pool);
  FloatIn fb, fr;
  if (ctx.has_input(2)) fb = float_input(ctx.input(2), pool);
  a.x = fx.p;
  a.w = fw.p;
  a.ep.bias = fb.p;
  a.n = xs[0];
  a.c = xs[1];
  a.m = w.dim(0);
  a.group = ctx.attrs().get_int("group", 1);
  FloatOut fy;
  fy.init(y);
  a.y = fy.p;
  Shape conv_shape = {xs[0], w.dim(0)};
  conv_shape.insert(conv_shape.end(), a.geom.out.begin(), a.geom.out.end());
  std::vector<float> expanded;
  if (fused && ctx.has_input(3)) {
    const Tensor& r = ctx.input(3);
    fr = float_input(r, pool);
    a.residual = fr.p;
    if (conv_shape != y.shape()) {
      conv_with_enlarging_residual(a, conv_shape, r, fr.p, fy, y.shape(), pool);
      fy.finish(pool);
      return;
    }
    if (r.shape() != y.shape()) {
      // A broadcast residual is expanded once: the tile epilogue reads it with Y's layout.
      expanded.resize(static_cast<size_t>(y.numel()));
      broadcast_floats(fr.p, r.shape(), y.shape(), expanded.data(), pool, "FusedConv residual");
      a.residual = expanded.data();
    }
  }
  // Without AVX512-BF16, and for depthwise convs (memory-bound: bf16 products would gain nothing), bf16
  // runs the fp32 path.
  R1_CHECK(!int8_weight || (fused && precision == "int8" && conv_s8_applies(a)), ModelError)
      << ctx.node().label() << ": an int8 weight is read only by an int8 FusedConv that is not depthwise";
  if (precision == "int8" && conv_s8_applies(a)) {
    // int8 products (conv_s8.h): the input quantized per image (or with the model's static scale).
    ConvActQuant aq;
    const std::string mode = ctx.attrs().get_string("act_quant", "image");
    R1_CHECK(mode == "image" || mode == "tensor" || mode == "static", ModelError)
        << ctx.node().label() << ": act_quant must be 'image', 'tensor' or 'static', got '" << mode << "'";
    aq.per_tensor = mode == "tensor";
    if (mode == "static") {
      aq.is_static = true;
      aq.scale = ctx.attrs().get_float("a_scale", 1.f);
      aq.zero = static_cast<int32_t>(ctx.attrs().get_int("a_zero_point", 0));
      R1_CHECK(aq.scale > 0.f && aq.zero >= 0 && aq.zero <= 255, ModelError)
          << ctx.node().label() << ": act_quant='static' needs a_scale > 0 and a_zero_point in [0, 255], got "
          << aq.scale << " and " << aq.zero;
    }
    conv_forward_s8(a, conv_weights_s8(ctx, w, a, pool), aq, pool);
  } else if (precision == "bf16" && conv_bf16_applies(a)) {
    if (winograd_applies(a)) {
      // Winograd in bf16: 2.25x fewer products than im2col, each at the bf16 rate.
      ConvWeightsBf16 ub = conv_weights_bf16(ctx, w, a.w, a.m, a.c, true, pool);
      conv_winograd_bf16(a, ub.p, ub.ld, pool);
    } else {
      ConvWeightsBf16 wb = conv_weights_bf16(ctx, w, a.w, a.m, (a.c / a.group) * numel(a.geom.k), false, pool);
      conv_forward_bf16(a, wb.p, wb.ld, pool);
    }
  } else {
    conv_forward_f32(a, pool);
  }
  fy.finish(pool);
}

namespace {
void conv(KernelContext& ctx) { run_conv(ctx, false); }
}  // namespace

void register_conv_kernels(KernelTable& t) { t.add("Conv", conv); }
}  // namespace r1::cpu
