#include "r1/ir/verifier.h"

#include "r1/ir/op_registry.h"

namespace r1 {

void resolve_schemas(Graph& g) {
  const OpRegistry& reg = OpRegistry::instance();
  for (auto& n : g.nodes()) {
    for (auto& [attr, sub] : subgraphs_of(*n)) {
      (void)attr;
      sub->topological_sort();
      resolve_schemas(*sub);
    }
    const OpSchema* s = reg.find(n->op_type, n->domain);
    std::string dom = n->domain.empty() ? "ai.onnx" : n->domain;
    R1_CHECK(s != nullptr, ModelError) << "unsupported op '" << n->op_type << "' (domain " << dom << ", opset "
                                       << n->opset << ") in node '" << n->name << "'";
    R1_CHECK(n->opset == 0 || (n->opset >= s->since_opset && n->opset <= s->max_opset), ModelError)
        << "op '" << n->op_type << "' in node '" << n->name << "' uses opset " << n->opset << ", but only opsets "
        << s->since_opset << " to " << s->max_opset << " are supported";
    n->schema = s;
  }
}

namespace {
void verify_graph(const Graph& g) {
  // A subgraph's inputs are typed from its node's inputs, by shape inference (ir/ops/control_flow.cc).
  if (!g.is_subgraph())
    for (const Value* v : g.inputs())
      R1_CHECK(v->dtype != DType::Undefined, ModelError) << "graph input '" << v->name << "' has no dtype";
  for (auto& np : g.nodes()) {
    const Node& n = *np;
    for (auto& [attr, sub] : subgraphs_of(n)) {
      R1_CHECK(sub != nullptr, ModelError) << "node " << n.label() << ": subgraph '" << attr << "' is empty";
      R1_CHECK(sub->is_subgraph(), InternalError) << "node " << n.label() << ": '" << attr << "' is not a subgraph";
      verify_graph(*sub);
    }
    R1_CHECK(n.schema != nullptr, ModelError) << "node " << n.label() << " has no schema";
    // Trailing omitted inputs do not count toward the arity.
    int given = static_cast<int>(n.inputs.size());
    while (given > 0 && !n.inputs[given - 1]) --given;
    R1_CHECK(given >= n.schema->min_inputs && given <= n.schema->max_inputs, ModelError)
        << "node " << n.label() << " has " << given << " inputs; " << n.op_type << " takes " << n.schema->min_inputs
        << " to " << n.schema->max_inputs;
    int outs = static_cast<int>(n.outputs.size());
    R1_CHECK(outs >= n.schema->min_outputs && outs <= n.schema->max_outputs, ModelError)
        << "node " << n.label() << " has " << outs << " outputs; " << n.op_type << " produces " << n.schema->min_outputs
        << " to " << n.schema->max_outputs;
    for (const Value* in : n.inputs) {
      if (!in) continue;
      R1_CHECK(in->producer || in->is_graph_input || in->is_constant(), ModelError)
          << "node " << n.label() << " reads '" << in->name << "', which no node, input or initializer defines";
      R1_CHECK(!in->producer || in->producer->id < n.id, ModelError)
          << "node " << n.label() << " reads '" << in->name << "' before it is produced";
    }
  }
  for (const Value* v : g.outputs())
    R1_CHECK(v->producer || v->is_graph_input || v->is_constant(), ModelError)
        << "graph output '" << v->name << "' is never produced";
}
}  // namespace

void verify(const Graph& g) { verify_graph(g); }

}  // namespace r1
