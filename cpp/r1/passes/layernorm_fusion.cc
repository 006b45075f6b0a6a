// LayerNorm written out by older exporters (opset < 17) → one LayerNormalization node:
//   m = ReduceMean(x, axes=[-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2) | Mul(d, d), axes=[-1])
//   y = Div(d, Sqrt(Add(v, eps))) [* gamma] [+ beta]
// One pass over the row instead of seven, and the result feeds skip_layernorm_fusion.
#include <algorithm>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool is_op(const Node* n, const char* op) {
  return n && n->op_type == op && (n->domain.empty() || n->domain == "ai.onnx");
}

// ReduceMean over exactly the last axis (axes as attribute before opset 18, as input after).
bool mean_over_last(const Node* n, const Value* x) {
  if (!is_op(n, "ReduceMean") || n->inputs[0] != x || n->attrs.get_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes = n->attrs.get_ints("axes");
  if (n->inputs.size() > 1 && n->inputs[1]) {
    if (!n->inputs[1]->is_constant()) return false;
    axes = n->inputs[1]->constant.to_int64_vector();
  }
  if (axes.size() != 1) return false;
  if (axes[0] == -1) return true;
  return x->has_shape && axes[0] == static_cast<int64_t>(x->shape.size()) - 1;
}

Value* other_input(const Node* n, const Value* v) { return n->inputs[0] == v ? n->inputs[1] : n->inputs[0]; }

class LayerNormFusion : public Pass {
 public:
  const char* name() const override { return "layernorm_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "LayerNormalization", "")) return false;
    bool changed = false;
    for (Node* div : node_list(g)) {
      if (!is_op(div, "Div")) continue;
      Node* sub = producer(div->inputs[0], "Sub");
      Node* sq = producer(div->inputs[1], "Sqrt");
      if (!sub || !sq) continue;
      Value* x = sub->inputs[0];
      if (!x || x->dtype != DType::Float32 || !mean_over_last(sub->inputs[1]->producer, x)) continue;
      Value* d = sub->outputs[0];
      Node* add_eps = producer(sq->inputs[0], "Add");
      double eps;
      if (!add_eps || !scalar_constant(add_eps->inputs[1], &eps)) continue;
      Node* var = add_eps->inputs[0]->producer;
      if (!var || !mean_over_last(var, var->inputs[0])) continue;
      Node* pw = var->inputs[0]->producer;
      double two;
      bool squared = (is_op(pw, "Pow") && pw->inputs[0] == d && scalar_constant(pw->inputs[1], &two) && two == 2.0) ||
                     (is_op(pw, "Mul") && pw->inputs[0] == d && pw->inputs[1] == d);
      if (!squared) continue;
      // Optional affine tail: * gamma, + beta (constants over the last axis).
      Value* out = div->outputs[0];
      Value* gamma = nullptr;
      Value* beta = nullptr;
      if (only_reader(out) && is_op(out->consumers[0], "Mul")) {
        Value* gv = other_input(out->consumers[0], out);
        if (gv && gv->is_constant() && gv->constant.rank() == 1) {
          gamma = gv;
          out = out->consumers[0]->outputs[0];
        }
      }
      if (gamma && only_reader(out) && is_op(out->consumers[0], "Add")) {
        Value* bv = other_input(out->consumers[0], out);
        if (bv && bv->is_constant() && bv->constant.rank() == 1 && bv->constant.numel() == gamma->constant.numel()) {
          beta = bv;
          out = out->consumers[0]->outputs[0];
        }
      }
      if (!gamma) {
        if (!x->has_shape || x->shape.empty() || !is_known(x->shape.back())) continue;
        Tensor ones = Tensor::empty(DType::Float32, {x->shape.back()});
        for (int64_t i = 0; i < ones.numel(); ++i) ones.data<float>()[i] = 1.f;
        gamma = add_const(g, div->name + "_gamma", ones);
      }
      if (gamma->constant.dtype() != DType::Float32 || (beta && beta->constant.dtype() != DType::Float32)) continue;
      AttributeMap a;
      a.set("axis", Attribute::make_int(-1));
      a.set("epsilon", Attribute::make_float(static_cast<float>(eps)));
      Node* f = add_op(g, "LayerNormalization", "", {x, gamma, beta}, std::move(a), div->name + "_layernorm");
      // LayerNormalization exists from opset 17; a node carries its own opset, so older graphs use it too.
      f->opset = std::max(17, f->opset);
      g.replace_all_uses(out, f->outputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_layernorm_fusion() { return std::make_unique<LayerNormFusion>(); }
}  // namespace r1
