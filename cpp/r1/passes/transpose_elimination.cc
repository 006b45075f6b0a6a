// Layout clean-up on the final op set: Transpose∘Transpose becomes one Transpose (or nothing when
// the permutations cancel), identity permutations go, and Reshape∘Reshape becomes one Reshape
// when the outer target does not refer to the inner shape (no 0 "copy" entries).
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool is_op(const Node* n, const char* op) {
  return n && n->op_type == op && (n->domain.empty() || n->domain == "ai.onnx");
}

bool perm_of(const Node* t, std::vector<int64_t>* p) {
  *p = t->attrs.get_ints("perm");
  if (p->empty()) return false;  // default perm reverses dims: only with a known rank, left alone
  return true;
}

bool identity(const std::vector<int64_t>& p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int64_t>(i)) return false;
  return true;
}

class TransposeElimination : public Pass {
 public:
  const char* name() const override { return "transpose_elimination"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* n : node_list(g)) {
      if (is_op(n, "Transpose")) {
        std::vector<int64_t> p2;
        if (!perm_of(n, &p2)) continue;
        Value* y = n->outputs[0];
        if (identity(p2)) {
          if (y->is_graph_output && !n->inputs[0]->producer) continue;
          g.replace_all_uses(y, n->inputs[0]);
          changed = true;
          continue;
        }
        Node* inner = producer(n->inputs[0], "Transpose");
        std::vector<int64_t> p1;
        if (!inner || !perm_of(inner, &p1) || p1.size() != p2.size()) continue;
        std::vector<int64_t> c(p2.size());
        for (size_t j = 0; j < p2.size(); ++j) c[j] = p1[p2[j]];
        Value* x = inner->inputs[0];
        if (identity(c)) {
          if (y->is_graph_output && !x->producer) continue;
          g.replace_all_uses(y, x);
        } else {
          AttributeMap a;
          a.set("perm", Attribute::make_ints(c));
          Node* f = add_op(g, "Transpose", "", {x}, std::move(a), n->name + "_merged");
          g.replace_all_uses(y, f->outputs[0]);
        }
        changed = true;
      } else if (is_op(n, "Reshape") && n->opset >= 5) {
        Node* inner = producer(n->inputs[0], "Reshape");
        Value* target = n->inputs[1];
        if (!inner || inner->opset < 5 || !target || !target->is_constant()) continue;
        bool copies = false;
        if (n->attrs.get_int("allowzero", 0) == 0)
          for (int64_t d : target->constant.to_int64_vector()) copies |= d == 0;
        if (copies) continue;
        Node* f = add_op(g, "Reshape", "", {inner->inputs[0], target}, n->attrs, n->name + "_merged");
        f->opset = n->opset;
        g.replace_all_uses(n->outputs[0], f->outputs[0]);
        changed = true;
      }
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_transpose_elimination() { return std::make_unique<TransposeElimination>(); }
}  // namespace r1
