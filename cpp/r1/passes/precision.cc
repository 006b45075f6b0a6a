// precision="bf16": the fused GEMM, conv and attention kernels compute with bf16 products and fp32
// accumulation (AVX512-BF16 where present). Tensors between ops stay fp32, so every other op and
// the model's inputs and outputs keep their dtypes; only the fused ops' `precision` changes.
// A plain fp32 Conv with a constant weight (one conv_fusion left alone: no activation or residual to
// fuse) becomes an r1::FusedConv without epilogue so it can carry the attribute; depthwise convs
// stay as they are (the conv kernel runs them in fp32: they are memory-bound, bf16 would gain nothing).
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool is_plain_conv(const Node* n) {
  if (n->op_type != "Conv" || !(n->domain.empty() || n->domain == "ai.onnx")) return false;
  const Value* x = n->input(0);
  const Value* w = n->input(1);
  if (!x || x->dtype != DType::Float32 || !w || !w->is_constant()) return false;
  int64_t group = n->attrs.get_int("group", 1);
  bool depthwise = group > 1 && x->has_shape && x->shape.size() > 1 && x->shape[1] == group;
  return !depthwise;
}

class Precision : public Pass {
 public:
  const char* name() const override { return "precision"; }
  bool run(Graph& g, const PassOptions& opts) override {
    // On GPUs precision converts the whole graph instead (float_conversion).
    if (opts.precision == "fp32" || opts.device != "cpu") return false;
    bool changed = false;
    const bool convs = can_create(opts, "FusedConv", "r1");
    for (Node* n : node_list(g)) {
      if (convs && is_plain_conv(n)) {
        AttributeMap attrs = n->attrs;
        attrs.set("precision", Attribute::make_string(opts.precision));
        Value* b = n->inputs.size() > 2 ? n->inputs[2] : nullptr;
        Node* f = add_op(g, "FusedConv", "r1", {n->inputs[0], n->inputs[1], b}, std::move(attrs), n->name + "_fused");
        g.replace_all_uses(n->outputs[0], f->outputs[0]);
        changed = true;
        continue;
      }
      if (n->domain != "r1" || (n->op_type != "FusedMatMul" && n->op_type != "Attention" && n->op_type != "FusedConv"))
        continue;
      if (n->attrs.get_string("precision", "fp32") == opts.precision) continue;
      n->attrs.set("precision", Attribute::make_string(opts.precision));
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_precision() { return std::make_unique<Precision>(); }
}  // namespace r1
