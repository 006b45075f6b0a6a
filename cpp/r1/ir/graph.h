// The graph IR: Values (tensors flowing between nodes) and Nodes (op applications), kept in
// topological order. The Graph owns both; pointers stay valid until the graph is destroyed.
//
//   Graph g;
//   Value* x = g.add_input("x", DType::Float32, {g.symbol("batch"), 384});
//   Node* n = g.add_node("Relu", "", "relu0", {x}, {"y"}, {}, /*opset=*/17);
//   g.mark_output(n->outputs[0]);
//   g.topological_sort(); verify(g);
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "r1/core/backing_file.h"
#include "r1/core/tensor.h"
#include "r1/ir/attribute.h"

namespace r1 {

struct Node;
struct OpSchema;

// What a value holds: a tensor (almost always), a sequence of tensors, or an optional of either (ONNX's
// sequence and optional types). dtype is the (elements') element type; sequences have no shape.
enum class ValueKind : uint8_t { Tensor = 0, Sequence = 1, Optional = 2, OptionalSequence = 3 };
const char* value_kind_name(ValueKind k);  // "tensor", "sequence", "optional", "optional sequence"

struct Value {
  int id = 0;
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;  // may hold symbolic or unknown dims; empty with has_shape=false if unknown rank
  bool has_shape = false;
  Node* producer = nullptr;
  std::vector<Node*> consumers;
  Tensor constant;  // defined for initializers (weights, folded constants)
  bool is_graph_input = false;
  bool is_graph_output = false;
  ValueKind kind = ValueKind::Tensor;
  bool is_constant() const { return constant.defined(); }
};

struct Node {
  int id = 0;
  std::string name;
  std::string op_type;
  std::string domain;           // "" for the ONNX default domain
  int opset = 0;                // the model's opset for this node's domain
  std::vector<Value*> inputs;   // nullptr for an omitted optional input
  std::vector<Value*> outputs;  // nullptr for an omitted optional output
  AttributeMap attrs;
  const OpSchema* schema = nullptr;
  const Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  std::string label() const;  // "'name' (Op)"
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Value* add_input(const std::string& name, DType dtype, const Shape& shape);
  Value* add_constant(const std::string& name, Tensor value);
  Value* add_value(const std::string& name);  // an intermediate, typed later by inference
  // Outputs are created by name; inputs must already exist (nullptr for omitted optionals).
  Node* add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                 const std::vector<Value*>& inputs, const std::vector<std::string>& output_names, AttributeMap attrs,
                 int opset);
  void mark_output(Value* v);
  // Drops an input nobody reads any more from inputs() (a subgraph input whose value became a constant);
  // remove_dead() then frees it.
  void remove_input(Value* v);

  Value* find(const std::string& name) const;
  Value* get(const std::string& name) const;  // throws ModelError when absent

  // Symbolic dim names ("batch", "seq"): symbol(name) returns sym_dim(k), creating it if new.
  int64_t symbol(const std::string& name);
  const std::vector<std::string>& symbols() const { return symbols_; }

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  // Reorders nodes so every node follows its producers; throws ModelError on a cycle or a
  // value that is consumed but never produced. An order that is already topological is kept
  // (a schedule chosen by a pass survives later re-typing).
  void topological_sort();
  // Puts the nodes in `order` (a permutation of nodes()); throws InternalError unless every node
  // follows its producers.
  void reorder(const std::vector<Node*>& order);
  // Drops nodes whose outputs reach no graph output, and values nobody uses.
  void remove_dead();

  // A deep copy of the structure; constant tensors share their (read-only) buffers.
  std::unique_ptr<Graph> clone() const;

  // Rewriting (compiler passes). Every reader of `from` reads `to` instead; when `from` is a
  // graph output, `to` takes over its name and place (callers see the same output names).
  // `from` is left without readers, so remove_dead() drops its producer.
  void replace_all_uses(Value* from, Value* to);
  // A value name not used yet: base, base_1, base_2, ...
  std::string unique_name(const std::string& base) const;
  // Rewires one input of a node (keeps consumer lists right).
  void set_input(Node* n, size_t i, Value* v);

  // Files whose bytes constants read in place (a mapped .r1): the executor checks them around every
  // run (core/backing_file.h). clone() shares them with the copy.
  void add_backing(std::shared_ptr<const BackingFile> f) { backings_.push_back(std::move(f)); }
  const std::vector<std::shared_ptr<const BackingFile>>& backings() const { return backings_; }

  // A subgraph (If's branches, a loop body): its inputs are typed by the node that runs it, where the outer
  // graph's types are known (possibly never, for a value whose type depends on the data).
  bool is_subgraph() const { return subgraph_; }
  void set_subgraph(bool on) { subgraph_ = on; }

  int opset(const std::string& domain) const;
  void set_opset(const std::string& domain, int version) { opsets_[domain] = version; }
  const std::unordered_map<std::string, int>& opsets() const { return opsets_; }

 private:
  Value* new_value(const std::string& name);
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_, outputs_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int> symbol_ids_;
  std::unordered_map<std::string, int> opsets_;
  std::vector<std::shared_ptr<const BackingFile>> backings_;
  bool subgraph_ = false;
};

// The subgraph attributes of a node (If's branches, Loop's and Scan's body), by attribute name in name order.
std::vector<std::pair<std::string, Graph*>> subgraphs_of(const Node& n);

}  // namespace r1
