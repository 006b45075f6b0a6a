#include "r1/ir/builder.h"

#include "r1/ir/op_registry.h"
#include "r1/ir/verifier.h"

namespace r1 {

GraphBuilder::GraphBuilder() : graph_(std::make_unique<Graph>()) {}

void GraphBuilder::set_opset(const std::string& domain, int version) {
  check_open();
  graph_->set_opset(domain == "ai.onnx" ? "" : domain, version);
}

void GraphBuilder::check_open() const {
  R1_CHECK(graph_ != nullptr, ModelError) << "this GraphBuilder has already finished its graph";
}

void GraphBuilder::add_input(const std::string& name, DType dtype, const std::vector<DimSpec>& dims) {
  check_open();
  Shape s;
  for (auto& d : dims) {
    R1_CHECK(!d.symbol.empty() || d.value >= kUnknownDim, ModelError)
        << "input '" << name << "' has a negative dim " << d.value;
    s.push_back(d.symbol.empty() ? d.value : graph_->symbol(d.symbol));
  }
  graph_->add_input(name, dtype, s);
}

void GraphBuilder::add_value_input(const std::string& name, DType dtype, ValueKind kind) {
  check_open();
  Value* v = graph_->add_input(name, dtype, {});
  v->has_shape = false;  // a sequence has no shape; an optional's value may have any
  v->kind = kind;
}

void GraphBuilder::add_untyped_input(const std::string& name) {
  check_open();
  Value* v = graph_->add_input(name, DType::Undefined, {});
  v->has_shape = false;
}

void GraphBuilder::add_initializer(const std::string& name, Tensor value) {
  check_open();
  // An initializer named like an input already added is that input's default value: the input
  // stays (it must be fed). The ONNX importer adds initializers first and drops such inputs, so
  // for ONNX models the initializer is used, as ONNX IR < 4 defines.
  if (Value* v = graph_->find(name); v && v->is_graph_input) return;
  graph_->add_constant(name, std::move(value));
}

void GraphBuilder::add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                            const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                            AttributeMap attrs) {
  check_open();
  // Nodes are created in finish(): ONNX files are not always topologically ordered, so an input
  // may be produced by a node that comes later.
  nodes_.push_back({op_type, domain == "ai.onnx" ? "" : domain, name, inputs, outputs, std::move(attrs)});
}

void GraphBuilder::add_output(const std::string& name) {
  check_open();
  outputs_.push_back(name);
}

std::unique_ptr<Graph> GraphBuilder::finish() {
  build();
  finalize_graph(*graph_);
  return std::move(graph_);
}

std::unique_ptr<Graph> GraphBuilder::finish_subgraph() {
  build();
  graph_->set_subgraph(true);
  return std::move(graph_);
}

void GraphBuilder::build() {
  check_open();
  Graph& g = *graph_;
  // Create every produced value first so forward references resolve.
  for (size_t k = 0; k < nodes_.size(); ++k) {
    auto& pn = nodes_[k];
    // Inputs are bound in a second pass, once every produced value exists.
    std::vector<Value*> ins(pn.inputs.size(), nullptr);
    g.add_node(pn.op_type, pn.domain, pn.name, ins, pn.outputs, std::move(pn.attrs), g.opset(pn.domain));
  }
  for (size_t k = 0; k < nodes_.size(); ++k) {
    Node* n = g.nodes()[k].get();
    for (size_t i = 0; i < nodes_[k].inputs.size(); ++i) {
      const std::string& nm = nodes_[k].inputs[i];
      if (nm.empty()) continue;
      Value* v = g.find(nm);
      R1_CHECK(v != nullptr, ModelError) << "node " << n->label() << " reads '" << nm
                                         << "', which no node, input or initializer defines";
      n->inputs[i] = v;
      v->consumers.push_back(n);
    }
  }
  for (auto& o : outputs_) g.mark_output(g.get(o));
  nodes_.clear();
}

void finalize_graph(Graph& g) {
  g.topological_sort();
  resolve_schemas(g);
  verify(g);
  infer_shapes(g);
}

}  // namespace r1
