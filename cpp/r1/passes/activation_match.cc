#include "r1/passes/activation_match.h"

#include <limits>

#include "r1/passes/rewrite.h"

namespace r1::passes {
namespace {
bool onnx_domain(const Node* n) { return n->domain.empty() || n->domain == "ai.onnx"; }

void set(AttributeMap* a, const char* act, float alpha = 0, float beta = 0) {
  a->set("activation", Attribute::make_string(act));
  a->set("act_alpha", Attribute::make_float(alpha));
  a->set("act_beta", Attribute::make_float(beta));
}
}  // namespace

Node* fusable_activation(Value* v, AttributeMap* attrs) {
  if (!v || v->is_graph_output || v->consumers.size() > 2 || v->consumers.empty()) return nullptr;
  // Silu: Mul(x, Sigmoid(x)) — x has exactly two readers, the Sigmoid and the Mul.
  if (v->consumers.size() == 2) {
    Node* a = v->consumers[0];
    Node* b = v->consumers[1];
    if (a->op_type == "Mul") std::swap(a, b);
    if (a->op_type != "Sigmoid" || b->op_type != "Mul" || !onnx_domain(a) || !onnx_domain(b)) return nullptr;
    Value* s = a->outputs[0];
    if (!only_reader(s, b) || input_index(b, v) < 0 || input_index(b, s) < 0) return nullptr;
    set(attrs, "Silu");
    return b;
  }
  Node* n = v->consumers[0];
  const std::string& op = n->op_type;
  if (n->inputs.empty() || n->inputs[0] != v) return nullptr;
  if (n->domain == "r1" && op == "Gelu") {
    set(attrs, n->attrs.get_string("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu");
    return n;
  }
  if (!onnx_domain(n)) return nullptr;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") {
    set(attrs, op.c_str());
    return n;
  }
  if (op == "Gelu") {
    set(attrs, n->attrs.get_string("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu");
    return n;
  }
  if (op == "LeakyRelu") {
    set(attrs, "LeakyRelu", n->attrs.get_float("alpha", 0.01f));
    return n;
  }
  if (op == "HardSigmoid") {
    set(attrs, "HardSigmoid", n->attrs.get_float("alpha", 0.2f), n->attrs.get_float("beta", 0.5f));
    return n;
  }
  if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (n->opset < 11) {
      lo = n->attrs.get_float("min", lo);
      hi = n->attrs.get_float("max", hi);
    } else {
      double x;
      if (n->inputs.size() > 1 && n->inputs[1]) {
        if (!scalar_constant(n->inputs[1], &x)) return nullptr;
        lo = static_cast<float>(x);
      }
      if (n->inputs.size() > 2 && n->inputs[2]) {
        if (!scalar_constant(n->inputs[2], &x)) return nullptr;
        hi = static_cast<float>(x);
      }
    }
    set(attrs, "Clip", lo, hi);
    return n;
  }
  return nullptr;
}

}  // namespace r1::passes
