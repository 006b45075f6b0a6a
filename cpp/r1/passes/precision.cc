// The CPU's compute precision of the fused ops (FusedMatMul, FusedConv, Attention). Tensors between ops
// stay fp32, so every other op and the model's inputs and outputs keep their dtypes.
// - "bf16": the fused GEMM, conv and attention kernels compute with bf16 products and fp32
//   accumulation (AVX512-BF16 where present). A plain fp32 Conv with a constant weight (one
//   conv_fusion left alone: no activation or residual to fuse) becomes an r1::FusedConv without
//   epilogue so it can carry the attribute; depthwise convs stay as they are (the conv kernel runs
//   them in fp32: they are memory-bound, bf16 would gain nothing).
// - "int8": FusedMatMuls with a constant weight compute in int8 (weights per output channel, the
//   activation quantized per row at run time: dynamic quantization), and so do convs that are not
//   depthwise (the input quantized per image: conv_s8.h); the attention core runs in bf16 (fp32
//   products on CPUs without AVX512-BF16); embedding tables (a Gather of a constant table of at least
//   64k values) are stored int8 per row and read through r1::GatherDequant; everything else stays fp32.
// - "int4" (an override only: r1.quantize(mode="weights_only")): FusedMatMuls with a constant weight
//   store group-wise int4 weights (cpu/gemm/gemm_s4.h); embedding tables int8 per row; the attention core
//   and convs stay fp32.
// - precision_overrides: (glob over node names, precision) pairs, first match wins, for the
//   per-layer policy of r1.quantize. A node takes int8 / int4 only where it can (a constant weight).
#include <fnmatch.h>

#include <algorithm>
#include <cmath>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

// The int8 GEMM's deepest K (cpu/gemm/gemm_s8.h kMaxS8Depth: its int32 sums could overflow beyond).
constexpr int64_t kMaxInt8Depth = 65536;

bool is_plain_conv(const Node* n) {
  if (n->op_type != "Conv" || !(n->domain.empty() || n->domain == "ai.onnx")) return false;
  const Value* x = n->input(0);
  const Value* w = n->input(1);
  if (!x || x->dtype != DType::Float32 || !w || !w->is_constant()) return false;
  int64_t group = n->attrs.get_int("group", 1);
  bool depthwise = group > 1 && x->has_shape && x->shape.size() > 1 && x->shape[1] == group;
  return !depthwise;
}

bool is_fused(const Node* n) {
  return n->domain == "r1" && (n->op_type == "FusedMatMul" || n->op_type == "Attention" || n->op_type == "FusedConv");
}

// A FusedMatMul whose weight is constant (plain 2-D float, or already packed) and not too deep; a
// FusedConv with a constant weight that is not depthwise (the int8 conv's own checks decide the rest).
bool can_run_int8(const Node* n) {
  if (n->op_type == "FusedConv") {
    const Value* x = n->input(0);
    const Value* w = n->input(1);
    const int64_t group = n->attrs.get_int("group", 1);
    const bool depthwise = group > 1 && x && x->has_shape && x->shape.size() > 1 && x->shape[1] == group;
    return w && w->is_constant() && !depthwise;
  }
  if (n->op_type != "FusedMatMul") return false;
  const Value* w = n->input(1);
  if (!w || !w->is_constant()) return false;
  int64_t k = -1;
  if (n->attrs.get_int("packed_b", 0) != 0)
    k = n->attrs.get_int("k", -1);
  else if (w->constant.rank() == 2 && is_float(w->constant.dtype()))
    k = n->attrs.get_int("trans_b", 0) != 0 ? w->constant.dim(1) : w->constant.dim(0);
  return k > 0 && k <= kMaxInt8Depth;
}

std::string precision_of(const Node* n, const PassOptions& opts) {
  for (const auto& [pattern, precision] : opts.precision_overrides)
    if (fnmatch(pattern.c_str(), n->name.c_str(), 0) == 0) return precision;
  return opts.precision;
}

// A Gather of a large constant float table along axis 0 (an embedding): at int8 the table is stored int8
// per row (a quarter of the bytes) and read through r1::GatherDequant. Small tables are not worth it.
constexpr int64_t kMinTableElems = 1 << 16;

bool is_embedding(const Node* n) {
  if (n->op_type != "Gather" || !n->domain.empty() || n->attrs.get_int("axis", 0) != 0) return false;
  const Value* t = n->input(0);
  return t && t->is_constant() && t->constant.dtype() == DType::Float32 && t->constant.rank() >= 2 &&
         t->constant.numel() >= kMinTableElems;
}

Node* quantize_table(Graph& g, Node* n) {
  const Tensor& t = n->input(0)->constant;
  const int64_t V = t.dim(0), inner = t.numel() / V;
  Tensor q = Tensor::empty(DType::Int8, t.shape());
  Tensor s = Tensor::empty(DType::Float32, {V});
  const float* src = t.data<float>();
  for (int64_t v = 0; v < V; ++v) {
    float amax = 0.f;
    for (int64_t j = 0; j < inner; ++j) amax = std::max(amax, std::fabs(src[v * inner + j]));
    s.data<float>()[v] = amax / 127.f;
    const float inv = amax > 0.f ? 127.f / amax : 0.f;
    for (int64_t j = 0; j < inner; ++j)
      q.data<int8_t>()[v * inner + j] = static_cast<int8_t>(std::nearbyint(src[v * inner + j] * inv));
  }
  AttributeMap attrs;
  attrs.set("precision", Attribute::make_string("int8"));
  Value* qv = add_const(g, n->input(0)->name + "_int8", std::move(q));
  Value* sv = add_const(g, n->input(0)->name + "_scales", std::move(s));
  Node* f = add_op(g, "GatherDequant", "r1", {qv, sv, n->inputs[1]}, std::move(attrs), n->name + "_int8");
  g.replace_all_uses(n->outputs[0], f->outputs[0]);
  return f;
}

bool unquantize(Graph& g) {
  bool changed = false;
  for (Node* n : node_list(g))
    if (n->attrs.get_int("quantized", 0) != 0 && n->attrs.get_string("precision", "fp32") == "int8") {
      n->attrs.set("precision", Attribute::make_string("fp32"));
      changed = true;
    }
  return changed;
}

class Precision : public Pass {
 public:
  const char* name() const override { return "precision"; }
  bool run(Graph& g, const PassOptions& opts) override {
    // Products of a quantized model (quantized=1: dynamic_quant_import, static_quant_fusion) are int8 by
    // the model's own definition: the policy does not change them. On a GPU, which has no int8 product
    // yet, they run on their dequantized weights in the graph's float type.
    if (opts.device != "cpu") return unquantize(g);
    if (opts.precision == "fp32" && opts.precision_overrides.empty()) return false;
    for (const auto& o : opts.precision_overrides)
      R1_CHECK(o.second == "fp32" || o.second == "bf16" || o.second == "int8" || o.second == "int4", ModelError)
          << "precision override for '" << o.first << "' must be fp32, bf16, int8 or int4, got '" << o.second << "'";
    bool changed = false;
    const bool convs = can_create(opts, "FusedConv", "r1");
    for (Node* n : node_list(g)) {
      const bool imported = n->attrs.get_int("quantized", 0) != 0;  // int8 by the model's own definition
      const std::string conv_precision = convs && is_plain_conv(n) && !imported ? precision_of(n, opts) : "fp32";
      if (conv_precision == "bf16" || conv_precision == "int8") {
        AttributeMap attrs = n->attrs;
        attrs.set("precision", Attribute::make_string(conv_precision));
        Value* b = n->inputs.size() > 2 ? n->inputs[2] : nullptr;
        Node* f = add_op(g, "FusedConv", "r1", {n->inputs[0], n->inputs[1], b}, std::move(attrs), n->name + "_fused");
        g.replace_all_uses(n->outputs[0], f->outputs[0]);
        changed = true;
        continue;
      }
      // An int4 policy stores tables int8 (per row): a lookup reads one row, so 4 bits would save no time.
      const std::string table_precision = is_embedding(n) ? precision_of(n, opts) : "";
      if ((table_precision == "int8" || table_precision == "int4") && can_create(opts, "GatherDequant", "r1")) {
        quantize_table(g, n);
        changed = true;
        continue;
      }
      if (!is_fused(n) || n->attrs.get_int("quantized", 0) != 0) continue;
      std::string want = precision_of(n, opts);
      // int8 runs the attention core (products of two activations) in bf16: the softmax's inputs need
      // more than 8 bits, and bf16 costs nothing visible in accuracy (cosine >= 0.99999 on BERT).
      if (want == "int8" && n->op_type == "Attention") want = "bf16";
      // int4 is weight-only: the attention core (no weights) keeps fp32.
      if (want == "int4" && n->op_type == "Attention") want = "fp32";
      // only products with constant weights go int8 / int4
      if ((want == "int8" || want == "int4") && !can_run_int8(n)) want = "fp32";
      if (n->attrs.get_string("precision", "fp32") == want) continue;
      n->attrs.set("precision", Attribute::make_string(want));
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_precision() { return std::make_unique<Precision>(); }
}  // namespace r1
