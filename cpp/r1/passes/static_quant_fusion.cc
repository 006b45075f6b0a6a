// A product that reads its activation through a QuantDequant (a QDQ model's calibrated QuantizeLinear ->
// DequantizeLinear, fused by qdq_fusion) with a weight on an int8 grid (a folded DequantizeLinear of int8
// weights) runs as an int8 r1::FusedMatMul: A is quantized with the model's own scale and zero point
// inside the GEMM (no rounded float copy of A), the weight's integers are packed as they are.
//
//   a = r1::QuantDequant(x) {scale=s, zero_point=z, qmin=-128, qmax=127}; y = r1::FusedMatMul(a, W, ...)
//     →  y = r1::FusedMatMul(x, W, ...) {precision="int8", quantized=1, act_quant="static", a_scale=s,
//                                        a_zero_point=z + 128}
//
// Convs (Conv, FusedConv) the same way: the int8 conv quantizes X with the model's scale (conv_s8.h).
// Only 8-bit grids, and only weights on a symmetric int8 grid per output channel or for the whole tensor
// (q = W / (max|W| / 127) within 1e-3 of an integer): a float weight that is not would pick up
// quantization error the model does not have, so it stays an fp32 product.
#include <algorithm>
#include <cmath>

#include "r1/core/int8_grid.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

// True when the weight's values are an int8 grid for each output channel (scale max|w| / 127), or for the
// whole tensor. Output channels: the columns of a product's W [K, N] (rows of W [N, K] with trans_b), the
// first axis of a conv's W [M, C/g, ...].
bool on_int8_grid(const Tensor& w, bool conv, bool trans_b) {
  if (w.dtype() != DType::Float32 || w.rank() < 2 || (!conv && w.rank() != 2)) return false;
  const float* p = w.data<float>();
  int64_t outer = 0, inner = 0;  // channels, values per channel
  if (conv) {
    outer = w.dim(0), inner = w.numel() / std::max<int64_t>(outer, 1);
  } else {
    outer = trans_b ? w.dim(0) : w.dim(1), inner = trans_b ? w.dim(1) : w.dim(0);
  }
  const bool rows = conv || trans_b;  // channel c's values are contiguous
  bool per_channel = true;
  for (int64_t c = 0; c < outer && per_channel; ++c)
    per_channel = int8_grid_max(inner, [&](int64_t i) { return rows ? p[c * inner + i] : p[i * outer + c]; }) >= 0;
  return per_channel || int8_grid_max(w.numel(), [&](int64_t i) { return p[i]; }) >= 0;
}

bool is_product(const Node* n) {
  return (n->op_type == "FusedMatMul" || n->op_type == "FusedConv") && n->domain == "r1";
}
bool is_conv(const Node* n) { return n->op_type == "FusedConv" || (n->op_type == "Conv" && n->domain.empty()); }

class StaticQuantFusion : public Pass {
 public:
  const char* name() const override { return "static_quant_fusion"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* n : node_list(g)) {
      if (!(is_product(n) || is_conv(n)) || n->attrs.get_int("quantized", 0) != 0) continue;
      if (n->attrs.get_int("packed_b", 0) != 0 || n->attrs.get_string("precision", "fp32") != "fp32") continue;
      Node* qd = producer(n->inputs[0], "QuantDequant", "r1");
      Value* w = n->inputs[1];
      if (!qd || !w || !w->is_constant()) continue;
      const int64_t lo = qd->attrs.get_int("qmin", 0), hi = qd->attrs.get_int("qmax", 255);
      if (hi - lo != 255) continue;  // an 8-bit grid
      if (!on_int8_grid(w->constant, is_conv(n), n->attrs.get_int("trans_b", 0) != 0)) continue;
      n->attrs.set("precision", Attribute::make_string("int8"));
      n->attrs.set("quantized", Attribute::make_int(1));
      n->attrs.set("act_quant", Attribute::make_string("static"));
      n->attrs.set("a_scale", Attribute::make_float(qd->attrs.get_float("scale", 1.f)));
      n->attrs.set("a_zero_point", Attribute::make_int(qd->attrs.get_int("zero_point", 0) - lo));
      g.set_input(n, 0, qd->inputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_static_quant_fusion() { return std::make_unique<StaticQuantFusion>(); }
}  // namespace r1
