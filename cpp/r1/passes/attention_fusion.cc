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
// masked rows with Where(IsNaN(P), 0, P), the op zeroes NaNs of O as it writes them (nan_to_zero=1),
// which is equivalent (a NaN row of P makes that row of O NaN, and a zero row of P makes it zero) and
// costs nothing, where an IsNaN + Where after it would read and write O twice more.
//
// Head split/merge Transposes are absorbed into the op's layout attributes, since the kernel reads
// rows with strides: when Q, V come from Transpose(perm [0,2,1,3]) of [B, S, H, D] and Kᵀ from
// Transpose(perm [0,2,3,1]) of [B, S, H, D], the op reads those [B, S, H, D] values
// (qkv_layout="bshd", k_transposed=0); when O's reader is Transpose(perm [0,2,1,3]) (possibly behind
// the exporter's no-op Reshape back to [B, H, S, D]) the op writes [B, S, H, D] (out_layout="bshd").
// A Transpose read also by Shape nodes (exporters size their Reshapes from it) still goes: the
// Shape becomes Gather(Shape(input), perm).
#include <cmath>
#include <vector>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool is_op(const Node* n, const char* op) {
  return n && n->op_type == op && (n->domain.empty() || n->domain == "ai.onnx");
}
bool rank4(const Value* v) { return v && v->has_shape && v->shape.size() == 4 && v->dtype == DType::Float32; }

// Peels `x * c` / `x / c` with a scalar constant c (x must be 4-D); multiplies c into *scale.
Value* strip_scale(Value* v, double* scale) {
  Node* p = v ? v->producer : nullptr;
  double c;
  if (is_op(p, "Mul") && only_reader(v)) {
    if (scalar_constant(p->inputs[1], &c) && rank4(p->inputs[0])) {
      *scale *= c;
      return p->inputs[0];
    }
    if (scalar_constant(p->inputs[0], &c) && rank4(p->inputs[1])) {
      *scale *= c;
      return p->inputs[1];
    }
  }
  if (is_op(p, "Div") && only_reader(v) && scalar_constant(p->inputs[1], &c) && c != 0 && rank4(p->inputs[0])) {
    *scale /= c;
    return p->inputs[0];
  }
  return v;
}

const std::vector<int64_t> kHeads = {0, 2, 1, 3};  // [B, S, H, D] <-> [B, H, S, D]
const std::vector<int64_t> kKeysT = {0, 2, 3, 1};  // [B, S, H, D] -> [B, H, D, S]

bool is_shape_node(const Node* n) { return is_op(n, "Shape") && !n->attrs.has("start") && !n->attrs.has("end"); }

// The readers of v other than plain Shape nodes (those can read a permuted shape instead).
int non_shape_readers(const Value* v) {
  int n = 0;
  for (const Node* c : v->consumers) n += is_shape_node(c) ? 0 : 1;
  return n;
}

// x when v = Transpose(x, perm) with x 4-D float32 and v read only by the pattern (plus Shapes).
Value* transposed_from(Value* v, const std::vector<int64_t>& perm) {
  Node* t = producer(v, "Transpose");
  if (!t || t->attrs.get_ints("perm") != perm || !rank4(t->inputs[0])) return nullptr;
  if (v->is_graph_output || non_shape_readers(v) != 1) return nullptr;
  return t->inputs[0];
}

// Every Shape reader of `v` reads Gather(Shape(src), perm) instead, which gives the same values
// when v = Transpose(src, perm) (or src = Transpose(v, perm) with perm its own inverse).
void reroute_shapes(Graph& g, Value* v, Value* src, const std::vector<int64_t>& perm) {
  for (Node* c : std::vector<Node*>(v->consumers)) {
    if (!is_shape_node(c)) continue;
    Node* sh = add_op(g, "Shape", "", {src}, {}, c->name + "_src");
    Value* idx = add_const(g, c->name + "_perm", Tensor::from_int64(perm));
    AttributeMap a;
    a.set("axis", Attribute::make_int(0));
    Node* ga = add_op(g, "Gather", "", {sh->outputs[0], idx}, std::move(a), c->name + "_permuted");
    g.replace_all_uses(c->outputs[0], ga->outputs[0]);
  }
}

// Dim `axis` of v when it can be read off the graph: a static dim, through Transpose, or from a
// Reshape whose target element is a positive constant; -1 otherwise.
int64_t const_dim(const Value* v, int64_t axis) {
  if (!v || axis < 0) return -1;
  if (v->has_shape && axis < static_cast<int64_t>(v->shape.size()) && is_known(v->shape[axis])) return v->shape[axis];
  const Node* p = v->producer;
  if (is_op(p, "Transpose")) {
    std::vector<int64_t> perm = p->attrs.get_ints("perm");
    return axis < static_cast<int64_t>(perm.size()) ? const_dim(p->inputs[0], perm[axis]) : -1;
  }
  if (is_op(p, "Reshape") && p->inputs.size() > 1 && p->inputs[1]) {
    const Value* s = p->inputs[1];
    if (s->is_constant()) {
      std::vector<int64_t> e = s->constant.to_int64_vector();
      return axis < static_cast<int64_t>(e.size()) && e[axis] > 0 ? e[axis] : -1;
    }
    // Concat of one-element pieces: element `axis` is piece `axis`.
    const Node* c = s->producer;
    if (is_op(c, "Concat") && static_cast<int64_t>(c->inputs.size()) > axis) {
      const Value* piece = c->inputs[axis];
      if (piece && piece->is_constant() && piece->constant.numel() == 1) {
        const int64_t d = piece->constant.to_int64_vector()[0];
        bool ok = true;  // every piece must hold one element for the index to line up
        for (const Value* in : c->inputs) ok = ok && in && in->has_shape && in->shape.size() == 1 && in->shape[0] == 1;
        return ok && d > 0 ? d : -1;
      }
    }
  }
  return -1;
}

// (X, j) when v is the one-element vector Shape(X)[j] (Unsqueeze of a scalar Gather, or a Gather
// with a one-element index).
bool shape_element(const Value* v, Value** x, int64_t* j) {
  const Node* p = v ? v->producer : nullptr;
  if (is_op(p, "Unsqueeze")) p = p->inputs[0] ? p->inputs[0]->producer : nullptr;
  if (!is_op(p, "Gather") || p->attrs.get_int("axis", 0) != 0 || !p->inputs[1] || !p->inputs[1]->is_constant())
    return false;
  std::vector<int64_t> idx = p->inputs[1]->constant.to_int64_vector();
  const Node* sh = p->inputs[0] ? p->inputs[0]->producer : nullptr;
  if (idx.size() != 1 || idx[0] < 0 || !is_shape_node(sh)) return false;
  *x = sh->inputs[0];
  *j = idx[0];
  return true;
}

// True when Reshape `r` of o = Attention(q, kt, v) ([B, H, Sq, Dv]) to a 4-D target is provably a
// no-op: each target element is 0 (copy), o's own dim, Sq read from Q, Dv read from V, or a constant
// equal to what the graph fixes for that dim; one -1 is then o's remaining dim. Exporters write this
// Reshape before merging heads.
bool noop_reshape(const Node* r, const Value* o, const Value* q, const Value* kt, const Value* v) {
  if (!is_op(r, "Reshape") || r->attrs.get_int("allowzero", 0) != 0 || !r->inputs[1]) return false;
  const Value* s = r->inputs[1];
  std::vector<const Value*> pieces;
  if (s->is_constant()) {
    std::vector<int64_t> e = s->constant.to_int64_vector();
    if (e.size() != 4) return false;
    int inferred = 0;
    for (int i = 0; i < 4; ++i) {
      inferred += e[i] == -1;
      if (e[i] != 0 && e[i] != -1 && !(e[i] > 0 && e[i] == const_dim(o, i))) return false;
    }
    return inferred <= 1;
  }
  const Node* c = s->producer;
  if (!is_op(c, "Concat") || c->inputs.size() != 4) return false;
  int inferred = 0;
  for (int i = 0; i < 4; ++i) {
    const Value* piece = c->inputs[i];
    if (!piece || !piece->has_shape || piece->shape.size() != 1 || piece->shape[0] != 1) return false;
    Value* x = nullptr;
    int64_t j = -1;
    if (piece->is_constant()) {
      const int64_t d = piece->constant.to_int64_vector()[0];
      if (d == 0) continue;
      if (d == -1 && ++inferred == 1) continue;
      if (d < 0) return false;
      // B and H broadcast over Q, K, V: a dim > 1 fixed on any of them is the output's.
      bool ok = d == const_dim(o, i);
      if (i == 2) ok = ok || d == const_dim(q, 2);
      if (i == 3) ok = ok || d == const_dim(v, 3);
      if (i < 2 && d > 1) ok = ok || d == const_dim(q, i) || d == const_dim(kt, i) || d == const_dim(v, i);
      if (!ok) return false;
    } else if (shape_element(piece, &x, &j)) {
      if (!(j == i && (x == o || (i == 2 && x == q) || (i == 3 && x == v)))) return false;
    } else {
      return false;
    }
  }
  return true;
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
      // Layouts: read the head-split Transposes' inputs, write past the head-merge Transpose.
      Value* o = pv->outputs[0];
      Value* qs = transposed_from(q, kHeads);
      Value* ks = transposed_from(kt, kKeysT);
      Value* vs = transposed_from(v, kHeads);
      const bool in_bshd = qs && ks && vs;
      Node* o_t = nullptr;
      if (!o->is_graph_output && non_shape_readers(o) == 1) {
        Node* r = nullptr;
        for (Node* c : o->consumers) r = is_shape_node(c) ? r : c;
        // The exporter's no-op Reshape back to [B, H, S, D] dies with the Transpose.
        if (noop_reshape(r, o, q, kt, v) && only_reader(r->outputs[0])) r = r->outputs[0]->consumers[0];
        if (is_op(r, "Transpose") && r->attrs.get_ints("perm") == kHeads) o_t = r;
      }
      a.set("k_transposed", Attribute::make_int(in_bshd ? 0 : 1));
      if (in_bshd) a.set("qkv_layout", Attribute::make_string("bshd"));
      if (o_t) a.set("out_layout", Attribute::make_string("bshd"));
      if (nan_guard) a.set("nan_to_zero", Attribute::make_int(1));
      if (in_bshd) {
        reroute_shapes(g, q, qs, kHeads);
        reroute_shapes(g, kt, ks, kKeysT);
        reroute_shapes(g, v, vs, kHeads);
      }
      Node* f = add_op(g, "Attention", "r1", {in_bshd ? qs : q, in_bshd ? ks : kt, in_bshd ? vs : v, mask},
                       std::move(a), sm->name + "_attention");
      Value* out = f->outputs[0];
      if (o_t) {
        // O's Shape readers (the no-op Reshape's target) read O's shape from the bshd output.
        reroute_shapes(g, o, out, kHeads);
        g.replace_all_uses(o_t->outputs[0], out);
      } else {
        g.replace_all_uses(o, out);
      }
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_attention_fusion() { return std::make_unique<AttentionFusion>(); }
}  // namespace r1
