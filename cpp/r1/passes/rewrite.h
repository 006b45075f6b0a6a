// Small helpers the passes share for matching and rewriting patterns.
//
//   Node* add = producer(v, "Add");               // v's producer when it is an ONNX Add, else nullptr
//   if (add && only_reader(add->outputs[0], n)) ...
//   float s; if (scalar_constant(add->inputs[1], &s)) ...
//   Node* f = add_op(g, "FusedMatMul", "r1", {a, b, bias}, attrs, "dense_fused");
#pragma once
#include <string>
#include <vector>

#include "r1/ir/graph.h"
#include "r1/passes/pass.h"

namespace r1::passes {

// A snapshot of the node list, safe to iterate while the pass adds nodes.
std::vector<Node*> node_list(const Graph& g);
// The producer of v when it is `op` in the ONNX default domain (or `domain`), else nullptr.
Node* producer(const Value* v, const char* op, const char* domain = "");
// True when v is read by exactly one node (`reader` when given) and is not a graph output.
bool only_reader(const Value* v, const Node* reader = nullptr);
// A constant holding one number (any rank with a single element) of a float or integer type.
bool scalar_constant(const Value* v, double* out);
// True when v is a constant of float type whose elements all equal `x` (within 1e-6 relative).
bool constant_equals(const Value* v, double x);
// The index of `v` among n's inputs (the first match), or -1.
int input_index(const Node* n, const Value* v);
// True when both values have fully matching static (or same-symbol) shapes, so one can stand in for
// the other element for element.
bool same_shape(const Value* a, const Value* b);

// True when `op` has a schema and the target device (opts.device) has a kernel for it: a fusion
// must never produce a graph the device cannot run.
bool can_create(const PassOptions& opts, const std::string& op, const std::string& domain);

// Adds a node with fresh output names derived from `base`, resolves its schema, and returns it.
// The pipeline re-types the graph after the pass, so outputs start untyped.
Node* add_op(Graph& g, const std::string& op, const std::string& domain, const std::vector<Value*>& inputs,
             AttributeMap attrs, const std::string& base, int num_outputs = 1);
// A new initializer with a fresh name.
Value* add_const(Graph& g, const std::string& base, Tensor t);

// Runs one node on the CPU with the given input tensors (constant folding), returning its outputs.
std::vector<Tensor> evaluate_node(const Node& n, const std::vector<const Tensor*>& inputs);

}  // namespace r1::passes
