// Control flow at compile time.
// - An If whose condition is a constant (the exporters' common case: a branch on a flag, or on a shape that
//   shape_folding made constant) becomes the branch it takes, inlined into the graph, so the passes after this
//   one see its nodes as any others.
// - An outer constant that a subgraph reads (a weight of a loop body) moves into the subgraph: the node stops
//   feeding it, and the subgraph's own passes (run after the graph's, pipeline.cc) fold and pack it.
#include <unordered_map>

#include "r1/ir/ops/control_flow.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

void inline_branch(Graph& g, Node* n, bool take) {
  const Graph& sub = *n->attrs.get_graph(take ? "then_branch" : "else_branch");
  std::unordered_map<const Value*, Value*> map;
  for (size_t k = 0; k < sub.inputs().size(); ++k) map[sub.inputs()[k]] = n->inputs[k + 1];
  for (auto& v : sub.values())
    if (v->is_constant()) map[v.get()] = add_const(g, v->name, v->constant);
  for (auto& sn : sub.nodes()) {
    std::vector<Value*> ins;
    for (Value* in : sn->inputs) ins.push_back(in ? map.at(in) : nullptr);
    std::vector<std::string> outs;
    for (Value* o : sn->outputs) outs.push_back(o ? g.unique_name(o->name) : "");
    // The branch's nodes (and their own subgraphs, which the If no longer needs) move into the graph.
    Node* c = g.add_node(sn->op_type, sn->domain, n->name + "/" + sn->name, ins, outs, sn->attrs, sn->opset);
    for (size_t i = 0; i < sn->outputs.size(); ++i)
      if (sn->outputs[i]) map[sn->outputs[i]] = c->outputs[i];
  }
  for (size_t i = 0; i < n->outputs.size(); ++i)
    if (n->outputs[i]) g.replace_all_uses(n->outputs[i], map.at(sub.outputs()[i]));
}

bool sink_constants(Node* n) {
  SubgraphFeed feed;
  if (subgraphs_of(*n).empty() || !subgraph_feed(*n, &feed)) return false;
  bool changed = false;
  for (size_t i = n->inputs.size(); i-- > feed.first_capture;) {
    Value* v = n->inputs[i];
    if (!v || !v->is_constant()) continue;
    for (auto& [attr, sub] : subgraphs_of(*n)) {
      (void)attr;
      Value* in = sub->inputs()[i - feed.shift];
      sub->replace_all_uses(in, add_const(*sub, in->name, v->constant));
      sub->remove_input(in);
    }
    // The node reads it no more: drop the input (and this node from the value's readers, once).
    auto& readers = v->consumers;
    readers.erase(std::find(readers.begin(), readers.end(), n));
    n->inputs.erase(n->inputs.begin() + static_cast<std::ptrdiff_t>(i));
    changed = true;
  }
  return changed;
}

class ControlFlowFolding : public Pass {
 public:
  const char* name() const override { return "control_flow_folding"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* n : node_list(g)) {
      const Value* c = n->input(0);
      if (n->op_type == "If" && n->domain.empty() && c && c->is_constant() && c->constant.numel() == 1 &&
          c->constant.dtype() == DType::Bool) {
        inline_branch(g, n, c->constant.data<bool>()[0]);
        changed = true;
        continue;
      }
      changed |= sink_constants(n);
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_control_flow_folding() { return std::make_unique<ControlFlowFolding>(); }

}  // namespace r1
