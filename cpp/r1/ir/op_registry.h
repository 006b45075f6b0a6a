// One registry of operator schemas: arity, supported opset range and the shape/type inference
// function. The same inference runs at compile time (symbolic shapes, constant inputs only) and
// at run time (every shape known, every input value available), so output shapes have one source.
//
//   void infer_relu(InferContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); }
//   reg.add({"Relu", "", 1, 1, 1, 1, infer_relu});
//
// Families of ops register themselves from one function each; op_list.cc names them all.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "r1/ir/graph.h"

namespace r1 {

class InferContext {
 public:
  struct InputInfo {
    DType dtype = DType::Undefined;
    const Shape* shape = nullptr;   // nullptr: unknown rank
    const Tensor* value = nullptr;  // known contents, or nullptr
  };
  InferContext(const Node& node, std::vector<InputInfo> inputs)
      : node_(node),
        inputs_(std::move(inputs)),
        out_dtypes_(node.outputs.size()),
        out_shapes_(node.outputs.size()),
        out_known_(node.outputs.size(), false),
        out_kinds_(node.outputs.size(), ValueKind::Tensor) {}

  const Node& node() const { return node_; }
  const AttributeMap& attrs() const { return node_.attrs; }
  int opset() const { return node_.opset; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].dtype != DType::Undefined; }
  bool has_output(size_t i) const { return i < node_.outputs.size() && node_.outputs[i] != nullptr; }
  DType input_dtype(size_t i) const;
  bool input_has_shape(size_t i) const { return has_input(i) && inputs_[i].shape; }
  const Shape& input_shape(size_t i) const;  // throws ShapeUnknown when the rank is unknown
  int input_rank(size_t i) const { return static_cast<int>(input_shape(i).size()); }
  const Tensor* input_value(size_t i) const { return has_input(i) ? inputs_[i].value : nullptr; }
  // Tensor, sequence or optional (graph.h); outputs are tensors unless set_output_kind says otherwise.
  ValueKind input_kind(size_t i) const {
    return i < node_.inputs.size() && node_.inputs[i] ? node_.inputs[i]->kind : ValueKind::Tensor;
  }
  void set_output_kind(size_t i, ValueKind k) {
    if (i < out_kinds_.size()) out_kinds_[i] = k;
  }
  ValueKind output_kind(size_t i) const { return out_kinds_[i]; }
  // The value of an integer input (shape, axes, ...) or nullopt-like empty flag when unknown.
  bool input_ints(size_t i, std::vector<int64_t>* out) const;

  void set_output(size_t i, DType dtype, Shape shape);
  void set_output_dtype(size_t i, DType dtype);  // rank unknown (data-dependent shape)
  DType output_dtype(size_t i) const { return out_dtypes_[i]; }
  const Shape& output_shape(size_t i) const { return out_shapes_[i]; }
  bool output_shape_known(size_t i) const { return out_known_[i]; }

  // Thrown by input_shape() when a rank is unknown at compile time; inference of that node
  // then leaves its outputs untyped, and the run-time pass fills them in.
  struct ShapeUnknown {};

 private:
  const Node& node_;
  std::vector<InputInfo> inputs_;
  std::vector<DType> out_dtypes_;
  std::vector<Shape> out_shapes_;
  std::vector<bool> out_known_;
  std::vector<ValueKind> out_kinds_;
};

using InferFn = std::function<void(InferContext&)>;
// Control flow (compile time): types a node's subgraph inputs from the node's inputs in `outer` and infers
// the subgraphs, before the node's own inference reads their outputs (ir/ops/control_flow.cc).
using BindSubgraphsFn = void (*)(Node& n, const Graph& outer);

struct OpSchema {
  std::string op_type;
  std::string domain;  // "" = ONNX default domain, "com.microsoft" / "r1" for contrib ops
  int min_inputs = 0, max_inputs = 0;
  int min_outputs = 1, max_outputs = 1;
  InferFn infer;
  int since_opset = 1;   // oldest opset of this op whose semantics we implement
  int max_opset = 1000;  // newest
  // Cost class: one kernel call does enough work to keep a core busy on its own (GEMMs, convolutions,
  // recurrences, attention), so independent ones are worth running side by side (inter-op slots).
  bool heavy = false;
  BindSubgraphsFn bind_subgraphs = nullptr;  // ops with subgraphs only
};

class OpRegistry {
 public:
  static OpRegistry& instance();  // filled on first use from op_list.cc
  void add(OpSchema schema);
  const OpSchema* find(const std::string& op_type, const std::string& domain) const;
  std::vector<std::string> op_names() const;  // sorted "Op" or "domain::Op"

 private:
  std::unordered_map<std::string, OpSchema> map_;
};

// Defined in op_list.cc: registers every family in one explicit list.
void register_all_ops(OpRegistry& reg);

// Whether the node's schema puts it in the heavy cost class (false for a node without a schema).
bool is_heavy(const Node& n);
// Whether the node draws random numbers (RandomNormal, Bernoulli...): constant folding and CSE leave it.
bool is_random(const Node& n);

// Shape inference over a whole graph (compile time): fills dtype/shape of every value it can.
void infer_shapes(Graph& g);
// Runs one node's inference with the given inputs, and throws ModelError with the node's label
// on any failure. Used by infer_shapes and by the executor.
void run_infer(InferContext& ctx);

}  // namespace r1
