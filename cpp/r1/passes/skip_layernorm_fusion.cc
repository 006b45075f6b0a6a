// Residual Add (+ a bias Add) feeding a LayerNormalization over the last axis → r1::SkipLayerNorm:
// one pass computes the sum, its mean and variance, and the normalised row. When something else
// also reads the sum (pre-LN transformers such as GPT-2 carry it to the next residual), the fused
// op's second output provides it.
//
//   s = Add(x, skip); y = LayerNormalization(s, gamma, beta)  →  y, s = r1::SkipLayerNorm(x, skip, gamma, beta)
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

class SkipLayerNormFusion : public Pass {
 public:
  const char* name() const override { return "skip_layernorm_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "SkipLayerNorm", "r1")) return false;
    bool changed = false;
    for (Node* ln : node_list(g)) {
      if (ln->op_type != "LayerNormalization" || !(ln->domain.empty() || ln->domain == "ai.onnx")) continue;
      if (ln->attrs.get_int("axis", -1) != -1) continue;
      if (ln->outputs.size() > 1 && ((ln->outputs[1] && !ln->outputs[1]->consumers.empty()) ||
                                     (ln->outputs.size() > 2 && ln->outputs[2] && !ln->outputs[2]->consumers.empty())))
        continue;  // mean / inv-std-dev outputs are read: keep the ONNX op
      Node* add = producer(ln->inputs[0], "Add");
      if (!add || ln->inputs[0]->dtype != DType::Float32) continue;
      Value* a = add->inputs[0];
      Value* b = add->inputs[1];
      Value* sum = add->outputs[0];
      // The fused op takes X and skip of the output's shape; a [hidden] constant is a bias instead.
      Value* bias = nullptr;
      if (b->is_constant() && b->constant.rank() == 1) {
        Node* inner = producer(a, "Add");
        if (!inner || !only_reader(a, add)) continue;
        bias = b;
        b = inner->inputs[1];
        a = inner->inputs[0];
      }
      if (!a || !b || a->is_constant() || b->is_constant()) continue;
      // Both operands must have the sum's shape: a broadcasting Add is not a residual.
      bool shapes_ok = (same_shape(a, sum) && same_shape(b, sum));
      if (!shapes_ok && !(a->has_shape && b->has_shape && a->shape.size() == b->shape.size() && sum->has_shape &&
                          sum->shape.size() == a->shape.size() && !a->shape.empty() && is_known(a->shape.back()) &&
                          a->shape.back() == b->shape.back() && both_unknown_lead(a, b)))
        continue;
      AttributeMap attrs;
      attrs.set("epsilon", Attribute::make_float(ln->attrs.get_float("epsilon", 1e-5f)));
      bool sum_used = sum->consumers.size() > 1 || sum->is_graph_output;
      Value* beta = ln->inputs.size() > 2 ? ln->inputs[2] : nullptr;
      Node* f = add_op(g, "SkipLayerNorm", "r1", {a, b, ln->inputs[1], beta, bias}, std::move(attrs),
                       ln->name + "_skip", sum_used ? 2 : 1);
      g.replace_all_uses(ln->outputs[0], f->outputs[0]);
      if (sum_used) g.replace_all_uses(sum, f->outputs[1]);
      changed = true;
    }
    return changed;
  }

 private:
  // Exporters lose the batch/sequence dims of transformer activations ([?, ?, 768]); two such
  // values added without broadcasting are the residual pattern. The kernel checks at run time
  // that X and skip have equal shapes and raises InputError otherwise.
  static bool both_unknown_lead(const Value* a, const Value* b) {
    for (size_t i = 0; i + 1 < a->shape.size(); ++i)
      if (a->shape[i] != b->shape[i] && is_known(a->shape[i]) && is_known(b->shape[i])) return false;
    return true;
  }
};
}  // namespace
std::unique_ptr<Pass> make_skip_layernorm_fusion() { return std::make_unique<SkipLayerNormFusion>(); }
}  // namespace r1
