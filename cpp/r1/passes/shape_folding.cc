// Folds the shape arithmetic exporters emit (Shape → Gather/Slice → Unsqueeze → Concat → Reshape)
// using what compile-time shape inference knows: static dims become constants, and a Reshape
// whose target mixes static dims with the input's own symbolic dims (batch, sequence) gets a
// constant target in Reshape's copy form (0 = keep that input dim, -1 = the one remaining dim).
// Everything the chain computed then dies. Values are tracked element by element:
// known number, symbolic dim of the input shape, or unknown.
#include <unordered_map>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {

struct Elem {
  enum Kind { Known, Sym, Unknown } kind = Unknown;
  int64_t v = 0;  // the number, or the symbolic dim code for Sym
};
struct SymVec {
  std::vector<Elem> e;
  bool scalar = false;
  bool all_known() const {
    for (auto& x : e)
      if (x.kind != Elem::Known) return false;
    return true;
  }
  bool any_unknown() const {
    for (auto& x : e)
      if (x.kind == Elem::Unknown) return true;
    return false;
  }
};

constexpr int64_t kMaxElems = 16;

bool is_int(DType t) { return t == DType::Int64 || t == DType::Int32; }

class ShapeFolding : public Pass {
 public:
  const char* name() const override { return "shape_folding"; }

  bool run(Graph& g, const PassOptions&) override {
    vals_.clear();
    bool changed = false;
    for (Node* n : passes::node_list(g)) {
      SymVec out;
      if (!evaluate(*n, &out)) continue;
      Value* o = n->outputs[0];
      vals_[o] = out;
      if (out.all_known() && !o->is_graph_output && !o->consumers.empty() && is_int(o->dtype)) {
        std::vector<int64_t> nums;
        for (auto& x : out.e) nums.push_back(x.v);
        Tensor t = Tensor::from_int64(nums, out.scalar);
        if (o->dtype == DType::Int32) t = to_int32(t);
        g.replace_all_uses(o, passes::add_const(g, o->name + "_folded", t));
        changed = true;
      }
    }
    for (Node* n : passes::node_list(g)) changed |= fold_reshape(g, n);
    return changed;
  }

 private:
  static Tensor to_int32(const Tensor& t) {
    Tensor r = Tensor::empty(DType::Int32, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) r.data<int32_t>()[i] = static_cast<int32_t>(t.data<int64_t>()[i]);
    return r;
  }

  bool lookup(const Value* v, SymVec* out) const {
    if (!v) return false;
    if (v->is_constant()) {
      const Tensor& t = v->constant;
      if (!is_int(t.dtype()) || t.rank() > 1 || t.numel() > kMaxElems) return false;
      out->scalar = t.rank() == 0;
      for (int64_t x : t.to_int64_vector()) out->e.push_back({Elem::Known, x});
      return true;
    }
    auto it = vals_.find(v);
    if (it == vals_.end()) return false;
    *out = it->second;
    return true;
  }

  bool evaluate(const Node& n, SymVec* out) const {
    if ((!n.domain.empty() && n.domain != "ai.onnx") || n.outputs.empty() || !n.outputs[0]) return false;
    const std::string& op = n.op_type;
    if (op == "Shape") {
      const Value* x = n.inputs[0];
      if (!x || !x->has_shape) return false;
      int64_t r = static_cast<int64_t>(x->shape.size());
      int64_t s = n.attrs.get_int("start", 0), e = n.attrs.get_int("end", r);
      if (s < 0) s += r;
      if (e < 0) e += r;
      s = std::max<int64_t>(0, std::min(s, r));
      e = std::max<int64_t>(s, std::min(e, r));
      for (int64_t i = s; i < e; ++i) {
        int64_t d = x->shape[i];
        out->e.push_back(is_known(d) ? Elem{Elem::Known, d} : is_sym_dim(d) ? Elem{Elem::Sym, d} : Elem{});
      }
      return true;
    }
    if (op == "Size") return false;
    SymVec a;
    if (op == "Identity" || op == "Cast") {
      if (!lookup(n.inputs[0], &a) || !is_int(n.outputs[0]->dtype)) return false;
      *out = a;
      return true;
    }
    if (op == "Gather") {
      SymVec idx;
      if (!lookup(n.inputs[0], &a) || a.scalar || !n.inputs[1] || !n.inputs[1]->is_constant()) return false;
      if (n.attrs.get_int("axis", 0) != 0 || !lookup(n.inputs[1], &idx)) return false;
      int64_t len = static_cast<int64_t>(a.e.size());
      for (auto& i : idx.e) {
        int64_t k = i.v < 0 ? i.v + len : i.v;
        if (k < 0 || k >= len) return false;
        out->e.push_back(a.e[k]);
      }
      out->scalar = idx.scalar;
      return true;
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
      if (!lookup(n.inputs[0], &a)) return false;
      // Only the 0-D <-> 1-D moves that shape chains use.
      if (op == "Unsqueeze" && a.scalar) {
        *out = a;
        out->scalar = false;
        return true;
      }
      if (op == "Squeeze" && !a.scalar && a.e.size() == 1) {
        *out = a;
        out->scalar = true;
        return true;
      }
      return false;
    }
    if (op == "Concat") {
      for (const Value* in : n.inputs) {
        SymVec p;
        if (!lookup(in, &p) || p.scalar) return false;
        out->e.insert(out->e.end(), p.e.begin(), p.e.end());
      }
      return static_cast<int64_t>(out->e.size()) <= kMaxElems;
    }
    if (op == "Slice") {
      if (!lookup(n.inputs[0], &a) || a.scalar) return false;
      std::vector<int64_t> st, en, ax, sp;
      auto ints = [&](size_t i, std::vector<int64_t>* v) {
        return i < n.inputs.size() && n.inputs[i] && n.inputs[i]->is_constant() &&
               (*v = n.inputs[i]->constant.to_int64_vector(), true);
      };
      if (n.opset < 10 || !ints(1, &st) || !ints(2, &en) || st.size() != 1 || en.size() != 1) return false;
      if (ints(3, &ax) && (ax.size() != 1 || (ax[0] != 0 && ax[0] != -1))) return false;
      int64_t step = ints(4, &sp) ? (sp.size() == 1 ? sp[0] : 0) : 1;
      if (step != 1) return false;
      int64_t len = static_cast<int64_t>(a.e.size());
      int64_t s = st[0] < 0 ? st[0] + len : st[0], e = en[0] < 0 ? en[0] + len : en[0];
      s = std::max<int64_t>(0, std::min(s, len));
      e = std::max<int64_t>(s, std::min(e, len));
      out->e.assign(a.e.begin() + s, a.e.begin() + e);
      return true;
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      SymVec b;
      if (!lookup(n.inputs[0], &a) || !lookup(n.inputs[1], &b)) return false;
      size_t len = std::max(a.e.size(), b.e.size());
      if ((a.e.size() != len && a.e.size() != 1) || (b.e.size() != len && b.e.size() != 1)) return false;
      out->scalar = a.scalar && b.scalar;
      for (size_t i = 0; i < len; ++i) {
        Elem x = a.e[a.e.size() == 1 ? 0 : i], y = b.e[b.e.size() == 1 ? 0 : i];
        Elem r;
        if (x.kind == Elem::Known && y.kind == Elem::Known) {
          if (op == "Div" && y.v == 0) return false;
          int64_t v = op == "Add" ? x.v + y.v : op == "Sub" ? x.v - y.v : op == "Mul" ? x.v * y.v : x.v / y.v;
          if (op == "Div" && (x.v % y.v) != 0 && ((x.v < 0) != (y.v < 0))) --v;  // numpy floor division
          r = {Elem::Known, v};
        } else if ((op == "Mul" || op == "Div") && x.kind == Elem::Sym && y.kind == Elem::Known && y.v == 1) {
          r = x;
        } else if (op == "Mul" && y.kind == Elem::Sym && x.kind == Elem::Known && x.v == 1) {
          r = y;
        } else if ((op == "Add" || op == "Sub") && x.kind == Elem::Sym && y.kind == Elem::Known && y.v == 0) {
          r = x;
        }
        out->e.push_back(r);
      }
      return true;
    }
    return false;
  }

  // Reshape(x, target) with a target known up to x's own symbolic dims → a constant target.
  bool fold_reshape(Graph& g, Node* n) {
    if (n->op_type != "Reshape" || (!n->domain.empty() && n->domain != "ai.onnx")) return false;
    if (n->inputs.size() < 2 || !n->inputs[1] || n->inputs[1]->is_constant()) return false;
    if (n->attrs.get_int("allowzero", 0) != 0) return false;
    SymVec t;
    const Value* x = n->inputs[0];
    if (!lookup(n->inputs[1], &t) || t.scalar || t.any_unknown() || !x || !x->has_shape) return false;
    std::vector<int64_t> target;
    int free_dims = 0;
    for (auto& e : t.e)
      if (e.kind == Elem::Known && e.v == -1) ++free_dims;
    for (size_t i = 0; i < t.e.size(); ++i) {
      const Elem& e = t.e[i];
      if (e.kind == Elem::Known) {
        if (e.v == 0) return false;  // a real 0 would read as "copy" in the constant form
        target.push_back(e.v);
      } else if (i < x->shape.size() && x->shape[i] == e.v) {
        target.push_back(0);
      } else {
        if (++free_dims > 1) return false;
        target.push_back(-1);
      }
    }
    g.set_input(n, 1, passes::add_const(g, n->name + "_shape", Tensor::from_int64(target)));
    return true;
  }

  std::unordered_map<const Value*, SymVec> vals_;
};
}  // namespace
std::unique_ptr<Pass> make_shape_folding() { return std::make_unique<ShapeFolding>(); }
}  // namespace r1
