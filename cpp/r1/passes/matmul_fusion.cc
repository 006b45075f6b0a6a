// MatMul/Gemm with a constant 2-D weight, + bias, + activation (or + residual) → r1::FusedMatMul,
// whose kernel applies the epilogue while each output tile is still in cache (one pass over the
// output instead of three) and whose weight can be pre-packed at load (weight_prepack).
//
//   Y = MatMul(X, W); Z = Add(Y, b); G = Gelu(Z)   →   G = r1::FusedMatMul(X, W, b) {activation="Gelu"}
#include "r1/passes/activation_match.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool float_2d_constant(const Value* v) {
  return v && v->is_constant() && v->constant.rank() == 2 && v->constant.dtype() == DType::Float32;
}

// The other operand of an Add reading `v`, when it is a constant [N] float bias.
Value* bias_of(Node* add, const Value* v, int64_t n) {
  Value* other = add->inputs[0] == v ? add->inputs[1] : add->inputs[0];
  if (!other || !other->is_constant() || other->constant.dtype() != DType::Float32) return nullptr;
  const Shape& s = other->constant.shape();
  int64_t numel = other->constant.numel();
  // [N], [1, N], [1, 1, N] all broadcast as a bias along the last axis.
  if (s.empty() || s.back() != n || numel != n) return nullptr;
  return other;
}

class MatMulFusion : public Pass {
 public:
  const char* name() const override { return "matmul_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "FusedMatMul", "r1")) return false;
    bool changed = false;
    for (Node* n : node_list(g)) {
      if (!n->domain.empty() && n->domain != "ai.onnx" && n->domain != "r1") continue;
      if (n->op_type == "MatMul")
        changed |= fuse(g, n, false);
      else if (n->op_type == "Gemm")
        changed |= fuse(g, n, true);
      else if (n->op_type == "FusedMatMul" && n->domain == "r1")
        changed |= absorb(g, n);
    }
    return changed;
  }

 private:
  struct Epilogue {
    Value* bias = nullptr;
    Value* residual = nullptr;
    Value* out = nullptr;  // the value the fused node replaces
    // An activation behind a Reshape (GPT-2's Conv1D: Gemm on [B*S, K], Reshape back, then GELU): it commutes
    // with the Reshape, so the product applies it and a new Reshape follows the fused node.
    Node* reshape = nullptr;
  };

  // Makes every reader of e.out read the fused node's output (through a copy of e.reshape when there is one).
  void rewire(Graph& g, const Epilogue& e, Node* f) {
    Value* v = f->outputs[0];
    if (e.reshape)
      v = add_op(g, "Reshape", "", {v, e.reshape->inputs[1]}, e.reshape->attrs, e.reshape->name + "_after")->outputs[0];
    g.replace_all_uses(e.out, v);
  }

  bool fuse(Graph& g, Node* n, bool gemm) {
    Value* a = n->inputs[0];
    Value* w = n->inputs[1];
    Value* y = n->outputs[0];
    if (!a || a->dtype != DType::Float32 || !float_2d_constant(w) || !y) return false;
    AttributeMap attrs;
    Value* bias = nullptr;
    float alpha = 1.f;
    int64_t trans_b = 0;
    if (gemm) {
      if (n->attrs.get_int("transA", 0) != 0) return false;
      trans_b = n->attrs.get_int("transB", 0);
      alpha = n->attrs.get_float("alpha", 1.f);
      float beta = n->attrs.get_float("beta", 1.f);
      if (n->inputs.size() > 2 && n->inputs[2]) {
        Value* c = n->inputs[2];
        int64_t cols = trans_b ? w->constant.dim(0) : w->constant.dim(1);
        if (!c->is_constant() || c->constant.dtype() != DType::Float32 || c->constant.numel() != cols) return false;
        Tensor b = Tensor::empty(DType::Float32, {cols});
        for (int64_t i = 0; i < cols; ++i) b.data<float>()[i] = beta * c->constant.data<float>()[i];
        bias = add_const(g, n->name + "_bias", b);
      }
    } else if (a->has_shape && a->shape.size() < 2) {
      return false;  // a 1-D A drops a dim in MatMul; the fused op keeps [..., M, K] semantics only
    }
    int64_t n_out = trans_b ? w->constant.dim(0) : w->constant.dim(1);
    Epilogue e = epilogue_after(y, n_out, bias, &attrs);
    attrs.set("alpha", Attribute::make_float(alpha));
    attrs.set("trans_b", Attribute::make_int(trans_b));
    Node* f = add_op(g, "FusedMatMul", "r1", {a, w, e.bias, e.residual}, std::move(attrs), n->name + "_fused");
    rewire(g, e, f);
    return true;
  }

  // A FusedMatMul another pass made (dynamic_quant_import: quantized=1) with no epilogue yet takes the
  // bias, activation and residual that follow it, like a MatMul does.
  bool absorb(Graph& g, Node* n) {
    if (n->attrs.get_int("quantized", 0) == 0 || !n->attrs.get_string("activation", "").empty()) return false;
    if ((n->inputs.size() > 2 && n->inputs[2]) || (n->inputs.size() > 3 && n->inputs[3])) return false;
    Value* w = n->inputs[1];
    if (!float_2d_constant(w) || !n->outputs[0]) return false;
    const int64_t n_out = n->attrs.get_int("trans_b", 0) != 0 ? w->constant.dim(0) : w->constant.dim(1);
    AttributeMap attrs = n->attrs;
    Epilogue e = epilogue_after(n->outputs[0], n_out, nullptr, &attrs);
    if (e.out == n->outputs[0]) return false;
    Node* f = add_op(g, "FusedMatMul", "r1", {n->inputs[0], w, e.bias, e.residual}, std::move(attrs), n->name);
    rewire(g, e, f);
    return true;
  }

  // The bias Add (unless a bias is given), activation, or residual Add (+ activation) after y.
  Epilogue epilogue_after(Value* y, int64_t n_out, Value* bias, AttributeMap* attrs) {
    Epilogue e;
    e.bias = bias;
    e.out = y;
    if (!bias && only_reader(e.out) && e.out->consumers[0]->op_type == "Add" && e.out->consumers[0]->domain.empty()) {
      Node* add = e.out->consumers[0];
      if (Value* b = bias_of(add, e.out, n_out)) {
        e.bias = b;
        e.out = add->outputs[0];
      }
    }
    Node* act = fusable_activation(e.out, attrs);
    Node* reshape =
        only_reader(e.out) && e.out->consumers[0]->op_type == "Reshape" && e.out->consumers[0]->domain.empty()
            ? e.out->consumers[0]
            : nullptr;
    Node* act_after = !act && reshape ? fusable_activation(reshape->outputs[0], attrs) : nullptr;
    if (act) {
      e.out = act->outputs[0];
    } else if (act_after) {
      e.reshape = reshape;
      e.out = act_after->outputs[0];
    } else if (only_reader(e.out) && e.out->consumers[0]->op_type == "Add" && e.out->consumers[0]->domain.empty()) {
      Node* add = e.out->consumers[0];
      Value* other = add->inputs[0] == e.out ? add->inputs[1] : add->inputs[0];
      if (other && other != e.out && !other->is_constant() && same_shape(other, e.out) &&
          same_shape(add->outputs[0], e.out)) {
        e.residual = other;
        e.out = add->outputs[0];
        if (Node* act2 = fusable_activation(e.out, attrs)) e.out = act2->outputs[0];
      }
    }
    return e;
  }
};
}  // namespace
std::unique_ptr<Pass> make_matmul_fusion() { return std::make_unique<MatMulFusion>(); }
}  // namespace r1
