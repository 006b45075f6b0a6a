// CPU kernel of r1::FusedMatMul (contract: cpp/r1/passes/README.md): Y = act(alpha * A @ op(B) +
// bias + residual) through cpu/gemm, whose epilogue runs on each output tile while it is in cache.
// A's leading dims fold into M (B is one 2-D matrix); 16-bit float tensors are staged through fp32.
// precision="int8": B is int8 per output channel (packed at compile time), A is quantized per row on
// each call (dynamic quantization; or per tensor / with a calibrated scale for imported quantized
// models: act_quant), the product runs in int32 (gemm_s8.h) and the epilogue in fp32. precision="int4": B is
// group-wise int4 (weight-only quantization, gemm_s4.h), A quantized per row likewise.
#include <cmath>
#include <limits>
#include <vector>

#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/gemm_s4.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/prepack.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/weight_cache.h"

namespace r1::cpu {
namespace {

using gemm::Act;

// act_alpha / act_beta with the defaults of the ONNX op each activation stands for.
void activation_params(const AttributeMap& at, gemm::Epilogue& ep) {
  const float inf = std::numeric_limits<float>::infinity();
  float da = 0.f, db = 0.f;
  if (ep.act == Act::HardSigmoid) da = 0.2f, db = 0.5f;
  if (ep.act == Act::LeakyRelu) da = 0.01f;
  if (ep.act == Act::Clip) da = -inf, db = inf;
  ep.act_alpha = at.get_float("act_alpha", da);
  ep.act_beta = at.get_float("act_beta", db);
}

// The residual as rows of N: in place when it has Y's shape (ld N) or is one row broadcast over
// all of them (ld 0); otherwise expanded to Y's shape first (rare: the fusion pass only fuses
// same-shape residuals).
const float* residual_rows(const Tensor& r, const float* rp, const Shape& ys, std::vector<float>& expanded, int64_t* ld,
                           ThreadPool& pool) {
  const int64_t n = ys.back();
  R1_CHECK(broadcast_shapes(ys, r.shape()) == ys, InputError)
      << "FusedMatMul: residual of shape " << shape_str(r.shape()) << " does not broadcast to the output "
      << shape_str(ys);
  if (r.shape() == ys) {
    *ld = n;
    return rp;
  }
  if (r.numel() == n && !r.shape().empty() && r.shape().back() == n) {
    *ld = 0;
    return rp;
  }
  expanded.resize(static_cast<size_t>(numel(ys)));
  broadcast_floats(rp, r.shape(), ys, expanded.data(), pool, "FusedMatMul residual");
  *ld = n;
  return expanded.data();
}

// How A is quantized at precision="int8" (attrs checked by the schema): act_quant "row" (default),
// "tensor", or "static" with a_scale and a_zero_point (uint8 domain).
gemm::ActQuant act_quant(const AttributeMap& at) {
  gemm::ActQuant q;
  const std::string mode = at.get_string("act_quant", "row");
  if (mode == "tensor") q.mode = gemm::ActQuant::Tensor;
  if (mode == "static") {
    q.mode = gemm::ActQuant::Static;
    q.scale = at.get_float("a_scale", 1.f);
    q.zero = static_cast<int32_t>(at.get_int("a_zero_point", 0));
  }
  return q;
}

void fused_matmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const AttributeMap& at = ctx.attrs();
  ThreadPool& pool = ctx.pool();
  const bool packed = at.get_int("packed_b", 0) != 0;
  const bool trans_b = at.get_int("trans_b", 0) != 0;
  const gemm::PackedLayout precision = gemm::layout_for_precision(at.get_string("precision", "fp32"));
  gemm::Epilogue ep;
  ep.alpha = at.get_float("alpha", 1.f);
  ep.act = gemm::parse_activation(at.get_string("activation", ""));
  activation_params(at, ep);
  // bf16 products are ~1e-3 off already: the cheaper erf (5e-7) costs nothing visible there and
  // saves ~4% of an FFN up-projection.
  if (ep.act == Act::Gelu && precision != gemm::PackedLayout::F32) ep.act = Act::GeluFast;

  R1_CHECK(a.rank() >= 1, InputError) << "FusedMatMul: A must be at least 1-D, got " << a.describe();
  const int64_t K = a.shape().back();
  Shape lead(a.shape().begin(), a.shape().end() - 1);
  const int64_t M = numel(lead);
  gemm::GemmB gb;
  gemm::PackedB view;
  Tensor quantized;  // int8 weights packed per call: only when the weight_prepack pass did not run
  FloatIn fb;
  int64_t N = 0;
  const bool low_bits = precision == gemm::PackedLayout::S8 || precision == gemm::PackedLayout::S4;
  if (!packed && low_bits) {
    R1_CHECK(b.rank() == 2, InputError) << "FusedMatMul: B must be 2-D, got " << b.describe();
    // Packed per call (no prepack ran): 2:4 compression only where the sparse kernel can read it.
    quantized = gemm::pack_weights(b, trans_b, at.get_string("precision", "fp32"), gemm::s8_sparse_kernel_available());
    const int64_t kb = trans_b ? b.shape()[1] : b.shape()[0];
    view = gemm::packed_view(quantized, kb, trans_b ? b.shape()[0] : b.shape()[1], precision);
    R1_CHECK(view.k == K, InputError) << "FusedMatMul: inner dimensions differ (" << a.describe() << " x "
                                      << b.describe() << (trans_b ? "^T" : "") << ")";
    N = view.n;
    gb.packed = &view;
  } else if (packed) {
    view = gemm::packed_view(b, at.get_int("k", -1), at.get_int("n", -1), precision);
    R1_CHECK(view.k == K, InputError) << "FusedMatMul: A has " << K << " columns but the packed B has k=" << view.k;
    N = view.n;
    gb.packed = &view;
  } else {
    R1_CHECK(b.rank() == 2, InputError) << "FusedMatMul: B must be 2-D, got " << b.describe();
    const int64_t kb = trans_b ? b.shape()[1] : b.shape()[0];
    N = trans_b ? b.shape()[0] : b.shape()[1];
    R1_CHECK(kb == K, InputError) << "FusedMatMul: inner dimensions differ (" << a.describe() << " x " << b.describe()
                                  << (trans_b ? "^T" : "") << ")";
    fb = float_input(b, pool);
    gb.f32 = fb.p;
    gb.ld = b.shape()[1];
    gb.trans = trans_b;
  }
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  FloatIn fa = float_input(a, pool);
  FloatIn fbias, fres;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    const Tensor& bias = ctx.input(2);
    R1_CHECK(bias.numel() == N, InputError)
        << "FusedMatMul: bias " << bias.describe() << " must hold N=" << N << " values";
    fbias = float_input(bias, pool);
    ep.bias = fbias.p;
  }
  std::vector<float> expanded;
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) {
    const Tensor& r = ctx.input(3);
    fres = float_input(r, pool);
    ep.residual = residual_rows(r, fres.p, y.shape(), expanded, &ep.ld_residual, pool);
  }
  FloatOut out;
  out.init(y);
  if (precision == gemm::PackedLayout::S8 && packed && view.layout == gemm::PackedLayout::S8S24) {
    // A prepacked 2:4 weight's dense copy, where the dense kernel wins (gemm_s8.h), lives as long as the weight.
    // Made here only for such weights: the holder is a std::function, an allocation on every other call.
    const gemm::DenseCopyHolder hold = [&](const std::function<std::vector<int8_t>()>& make) {
      return std::static_pointer_cast<const std::vector<int8_t>>(cached_weights(
          ctx, b, {K, N, kDense2to4},
          [&]() -> std::shared_ptr<const void> { return std::make_shared<const std::vector<int8_t>>(make()); }));
    };
    gemm::gemm_s8(M, N, K, fa.p, K, view, out.p, N, ep, pool, act_quant(at), &hold);
  } else if (precision == gemm::PackedLayout::S8)
    gemm::gemm_s8(M, N, K, fa.p, K, view, out.p, N, ep, pool, act_quant(at));
  else if (precision == gemm::PackedLayout::S4)
    gemm::gemm_s4(M, N, K, fa.p, K, view, out.p, N, ep, pool);
  else
    gemm::fused_gemm(M, N, K, fa.p, K, gb, precision, out.p, N, ep, pool);
  out.finish(pool);
}

}  // namespace

void register_fused_matmul_kernels(KernelTable& t) {
  t.add("FusedMatMul", fused_matmul_kernel, "r1").with_prepack(gemm::prepack_fused_matmul);
}

}  // namespace r1::cpu
