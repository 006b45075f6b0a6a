// Scaled dot-product attention → r1::Attention, whose kernel walks key blocks with an online
// softmax and never materialises the [Sq, Sk] score matrix:
//
//   S = MatMul(Q [* c1], Kt [* c2]) [* c3 | / c3] [+ mask]; P = Softmax(S, axis=-1)
//   [P = Where(IsNaN(P), 0, P)]; O = MatMul(P, V)
//
// Kt is whatever the exporter built as Kᵀ ([B, H, D, Sk]: a Transpose of the key projection, or
// the dynamo exporter's Reshape/Transpose/Reshape chain); the fused op reads it as is
// (k_transposed=1), so no pattern over those chains is needed. The scale factors the exporter
// split between Q, Kᵀ and the scores multiply into one `scale`. When the exporter guarded fully
// masked rows with Where(IsNaN(P), 0, P), the same guard is applied to O, which is equivalent
// (a NaN row of P makes that row of O NaN, and a zero row of P makes it zero).
#include <cmath>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool is_op(const Node* n, const char* op) { return n && n->op_type == op && (n->domain.empty() || n->domain == "ai.onnx"); }
bool rank4(const Value* v) { return v && v->has_shape && v->shape.size() == 4 && v->dtype == DType::Float32; }

// Peels `x * c` / `x / c` with a scalar constant c (x must be 4-D); multiplies c into *scale.
Value* strip_scale(Value* v, double* scale) {
  Node* p = v ? v->producer : nullptr;
  double c;
  if (is_op(p, "Mul") && only_reader(v)) {
    if (scalar_constant(p->inputs[1], &c) && rank4(p->inputs[0])) { *scale *= c; return p->inputs[0]; }
    if (scalar_constant(p->inputs[0], &c) && rank4(p->inputs[1])) { *scale *= c; return p->inputs[1]; }
  }
  if (is_op(p, "Div") && only_reader(v) && scalar_constant(p->inputs[1], &c) && c != 0 && rank4(p->inputs[0])) {
    *scale /= c;
    return p->inputs[0];
  }
  return v;
}

class AttentionFusion : public Pass {
 public:
  const char* name() const override { return "attention_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "Attention", "r1")) return false;
    bool changed = false;
    for (Node* sm : node_list(g)) {
      if (!is_op(sm, "Softmax")) continue;
      if (sm->attrs.get_int("axis", -1) != -1 && sm->attrs.get_int("axis", -1) != 3) continue;
      Value* p = sm->outputs[0];
      Value* s = sm->inputs[0];
      if (!rank4(s) || !only_reader(s)) continue;
      // Optional NaN guard after the softmax.
      bool nan_guard = false;
      if (p->consumers.size() == 2) {
        Node* isnan = nullptr;
        Node* where = nullptr;
        for (Node* c : p->consumers) {
          if (is_op(c, "IsNaN")) isnan = c;
          if (is_op(c, "Where")) where = c;
        }
        if (!isnan || !where || !only_reader(isnan->outputs[0], where) || where->inputs[0] != isnan->outputs[0] ||
            where->inputs[2] != p || !constant_equals(where->inputs[1], 0.0))
          continue;
        nan_guard = true;
        p = where->outputs[0];
      }
      if (!only_reader(p) || !is_op(p->consumers[0], "MatMul") || p->consumers[0]->inputs[0] != p) continue;
      Node* pv = p->consumers[0];
      Value* v = pv->inputs[1];
      // Scores: [* c3 | / c3] [+ mask] around MatMul(Q, Kt).
      double scale = 1.0;
      Value* mask = nullptr;
      Value* t = s;
      if (Node* add = producer(t, "Add")) {
        // The mask is the operand that is not the (scaled) Q·Kᵀ product.
        for (int i = 0; i < 2; ++i) {
          Value* cand = add->inputs[i];
          double sc = 1.0;
          Value* inner = strip_scale(cand, &sc);
          if (only_reader(cand) && producer(inner, "MatMul")) {
            mask = add->inputs[1 - i];
            t = cand;
            break;
          }
        }
        if (!mask || !is_float(mask->dtype)) continue;
      }
      t = strip_scale(t, &scale);
      Node* qk = producer(t, "MatMul");
      if (!qk || !only_reader(t)) continue;
      Value* q = strip_scale(qk->inputs[0], &scale);
      Value* kt = strip_scale(qk->inputs[1], &scale);
      if (!rank4(q) || !rank4(kt) || !rank4(v)) continue;
      AttributeMap a;
      a.set("scale", Attribute::make_float(static_cast<float>(scale)));
      a.set("k_transposed", Attribute::make_int(1));
      Node* f = add_op(g, "Attention", "r1", {q, kt, v, mask}, std::move(a), sm->name + "_attention");
      Value* out = f->outputs[0];
      if (nan_guard) {
        Node* isnan = add_op(g, "IsNaN", "", {out}, {}, sm->name + "_attention_isnan");
        Tensor zero = Tensor::zeros(DType::Float32, {});
        Node* where = add_op(g, "Where", "", {isnan->outputs[0], add_const(g, sm->name + "_zero", zero), out}, {},
                             sm->name + "_attention_guard");
        out = where->outputs[0];
      }
      g.replace_all_uses(pv->outputs[0], out);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_attention_fusion() { return std::make_unique<AttentionFusion>(); }
}  // namespace r1
