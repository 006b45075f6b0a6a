// Builds a Graph by tensor names, as the ONNX importer (in Python) walks a model.
//
//   GraphBuilder b;
//   b.set_opset("", 17);
//   b.add_input("x", DType::Float32, {{"batch"}, {384}});
//   b.add_initializer("w", weights_tensor);                 // no copy: the tensor shares its buffer
//   b.add_node("MatMul", "", "mm0", {"x", "w"}, {"y"}, {});
//   b.add_output("y");
//   std::unique_ptr<Graph> g = b.finish();                  // sorted, verified, shapes inferred
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "r1/ir/graph.h"

namespace r1 {

struct DimSpec {
  int64_t value = kUnknownDim;  // used when symbol is empty
  std::string symbol;
};

class GraphBuilder {
 public:
  GraphBuilder();
  void set_opset(const std::string& domain, int version);
  void add_input(const std::string& name, DType dtype, const std::vector<DimSpec>& dims);
  // A graph input of the sequence or optional type (its elements' dtype).
  void add_value_input(const std::string& name, DType dtype, ValueKind kind);
  // A subgraph's input: shape inference types it from the node that runs the subgraph (ir/ops/control_flow.cc).
  void add_untyped_input(const std::string& name);
  void add_initializer(const std::string& name, Tensor value);
  // An empty input name is an omitted optional input.
  void add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                const std::vector<std::string>& inputs, const std::vector<std::string>& outputs, AttributeMap attrs);
  void add_output(const std::string& name);
  std::unique_ptr<Graph> finish();  // once: the builder is spent afterwards
  // A subgraph (an attribute of a node of another builder's graph): built, but sorted, checked and typed with
  // the graph that holds it, whose values type its inputs.
  std::unique_ptr<Graph> finish_subgraph();

 private:
  void check_open() const;
  void build();
  struct PendingNode {
    std::string op_type, domain, name;
    std::vector<std::string> inputs, outputs;
    AttributeMap attrs;
  };
  std::unique_ptr<Graph> graph_;
  std::vector<PendingNode> nodes_;
  std::vector<std::string> outputs_;
};

// Sorts, binds schemas, verifies and infers shapes: the common tail of building and loading.
void finalize_graph(Graph& g);

}  // namespace r1
