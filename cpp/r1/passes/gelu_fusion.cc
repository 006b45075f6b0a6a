// The GELU formulas exporters spell out → r1::Gelu (which matmul_fusion then absorbs):
//   erf form:  0.5 * x * (1 + Erf(x / sqrt(2)))                          (BERT, ViT, MiniLM)
//   tanh form: 0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))    (GPT-2 "gelu_new")
// The 0.5 and the x may be multiplied in any order: (x * (1+f)) * 0.5, (x * 0.5) * (1+f),
// x * ((1+f) * 0.5).
#include <cmath>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool near(double a, double b) { return std::fabs(a - b) <= 1e-4 * std::fabs(b); }
bool is_op(const Node* n, const char* op) {
  return n && n->op_type == op && (n->domain.empty() || n->domain == "ai.onnx");
}
Value* other_input(const Node* n, const Value* v) { return n->inputs[0] == v ? n->inputs[1] : n->inputs[0]; }
bool scalar_is(const Value* v, double x) {
  double s;
  return scalar_constant(v, &s) && near(s, x);
}

// Given f's output `onep` = 1 + f(x), finds y = 0.5 * x * onep; returns y's producer or nullptr.
Node* match_half_x_times(Value* onep, Value* x) {
  if (!only_reader(onep)) return nullptr;
  Node* m = onep->consumers[0];
  if (!is_op(m, "Mul")) return nullptr;
  Value* o = other_input(m, onep);
  Value* mo = m->outputs[0];
  if (o == x) {  // (x * onep) * 0.5
    if (!only_reader(mo) || !is_op(mo->consumers[0], "Mul")) return nullptr;
    Node* m2 = mo->consumers[0];
    return scalar_is(other_input(m2, mo), 0.5) ? m2 : nullptr;
  }
  if (Node* h = producer(o, "Mul")) {  // (x * 0.5) * onep
    if ((h->inputs[0] == x && scalar_is(h->inputs[1], 0.5)) || (h->inputs[1] == x && scalar_is(h->inputs[0], 0.5)))
      return m;
  }
  if (scalar_is(o, 0.5)) {  // x * (onep * 0.5)
    if (!only_reader(mo) || !is_op(mo->consumers[0], "Mul")) return nullptr;
    Node* m2 = mo->consumers[0];
    return other_input(m2, mo) == x ? m2 : nullptr;
  }
  return nullptr;
}

// 1 + v: the Add reading v with a constant 1.
Value* one_plus(Value* v) {
  if (!only_reader(v) || !is_op(v->consumers[0], "Add")) return nullptr;
  Node* a = v->consumers[0];
  return scalar_is(other_input(a, v), 1.0) ? a->outputs[0] : nullptr;
}

// x from x / sqrt(2) or x * (1/sqrt(2)).
Value* erf_arg(Node* erf) {
  Value* in = erf->inputs[0];
  if (Node* d = producer(in, "Div")) return scalar_is(d->inputs[1], std::sqrt(2.0)) ? d->inputs[0] : nullptr;
  if (Node* m = producer(in, "Mul")) {
    if (scalar_is(m->inputs[1], 1 / std::sqrt(2.0))) return m->inputs[0];
    if (scalar_is(m->inputs[0], 1 / std::sqrt(2.0))) return m->inputs[1];
  }
  return nullptr;
}

// x from sqrt(2/pi) * (x + 0.044715 * x^3), with x^3 as Pow(x, 3) or x*x*x.
Value* tanh_arg(Node* t) {
  Node* m = producer(t->inputs[0], "Mul");
  if (!m) return nullptr;
  Value* s = scalar_is(m->inputs[1], std::sqrt(2 / M_PI))   ? m->inputs[0]
             : scalar_is(m->inputs[0], std::sqrt(2 / M_PI)) ? m->inputs[1]
                                                            : nullptr;
  Node* add = producer(s, "Add");
  if (!add) return nullptr;
  for (int i = 0; i < 2; ++i) {
    Value* x = add->inputs[i];
    Node* c = producer(add->inputs[1 - i], "Mul");
    if (!c) continue;
    Value* cube = scalar_is(c->inputs[1], 0.044715)   ? c->inputs[0]
                  : scalar_is(c->inputs[0], 0.044715) ? c->inputs[1]
                                                      : nullptr;
    if (Node* p = producer(cube, "Pow")) {
      if (p->inputs[0] == x && scalar_is(p->inputs[1], 3.0)) return x;
    } else if (Node* m3 = producer(cube, "Mul")) {
      Node* m2 = producer(m3->inputs[0], "Mul");
      if (m2 && m2->inputs[0] == x && m2->inputs[1] == x && m3->inputs[1] == x) return x;
      m2 = producer(m3->inputs[1], "Mul");
      if (m2 && m2->inputs[0] == x && m2->inputs[1] == x && m3->inputs[0] == x) return x;
    }
  }
  return nullptr;
}

class GeluFusion : public Pass {
 public:
  const char* name() const override { return "gelu_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "Gelu", "r1")) return false;
    bool changed = false;
    for (Node* n : node_list(g)) {
      bool erf = is_op(n, "Erf"), tanh = is_op(n, "Tanh");
      if (!erf && !tanh) continue;
      Value* x = erf ? erf_arg(n) : tanh_arg(n);
      if (!x || !is_float(x->dtype)) continue;
      Value* onep = one_plus(n->outputs[0]);
      Node* last = onep ? match_half_x_times(onep, x) : nullptr;
      if (!last) continue;
      AttributeMap a;
      a.set("approximate", Attribute::make_string(erf ? "none" : "tanh"));
      Node* f = add_op(g, "Gelu", "r1", {x}, std::move(a), n->name + "_gelu");
      g.replace_all_uses(last->outputs[0], f->outputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }
}  // namespace r1
