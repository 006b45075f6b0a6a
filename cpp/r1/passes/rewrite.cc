#include "r1/passes/rewrite.h"

#include <cmath>

#include "r1/backend/registry.h"
#include "r1/core/thread_pool.h"
#include "r1/ir/op_registry.h"

namespace r1::passes {

std::vector<Node*> node_list(const Graph& g) {
  std::vector<Node*> out;
  out.reserve(g.nodes().size());
  for (auto& n : g.nodes()) out.push_back(n.get());
  return out;
}

Node* producer(const Value* v, const char* op, const char* domain) {
  if (!v || !v->producer) return nullptr;
  Node* p = v->producer;
  if (p->op_type != op) return nullptr;
  std::string d = p->domain == "ai.onnx" ? "" : p->domain;
  return d == domain ? p : nullptr;
}

bool only_reader(const Value* v, const Node* reader) {
  if (!v || v->is_graph_output || v->consumers.size() != 1) return false;
  return reader == nullptr || v->consumers[0] == reader;
}

bool scalar_constant(const Value* v, double* out) {
  if (!v || !v->is_constant() || v->constant.numel() != 1) return false;
  DType t = v->constant.dtype();
  if (t == DType::Bool || t == DType::Undefined) return false;
  *out = v->constant.scalar_as_double(0);
  return true;
}

bool constant_equals(const Value* v, double x) {
  if (!v || !v->is_constant() || !is_float(v->constant.dtype()) || v->constant.numel() == 0) return false;
  for (int64_t i = 0; i < v->constant.numel(); ++i) {
    double e = v->constant.scalar_as_double(i);
    if (std::fabs(e - x) > 1e-6 * std::max(1.0, std::fabs(x))) return false;
  }
  return true;
}

int input_index(const Node* n, const Value* v) {
  for (size_t i = 0; i < n->inputs.size(); ++i)
    if (n->inputs[i] == v) return static_cast<int>(i);
  return -1;
}

bool can_create(const PassOptions& opts, const std::string& op, const std::string& domain) {
  if (!OpRegistry::instance().find(op, domain)) return false;
  BackendRegistry& reg = BackendRegistry::instance();
  return reg.device(opts.device).kernels().find(op, domain) != nullptr;
}

Node* add_op(Graph& g, const std::string& op, const std::string& domain, const std::vector<Value*>& inputs,
             AttributeMap attrs, const std::string& base, int num_outputs) {
  std::vector<std::string> outs;
  for (int i = 0; i < num_outputs; ++i) outs.push_back(g.unique_name(base + (i ? "_out" + std::to_string(i) : "")));
  // Fused ops live in the "r1" domain, versioned 1; ONNX ops take the graph's opset.
  int opset = domain == "r1" ? 1 : g.opset(domain);
  if (domain == "r1" && g.opset("r1") == 0) g.set_opset("r1", 1);
  Node* n = g.add_node(op, domain, g.unique_name(base), inputs, outs, std::move(attrs), opset);
  n->schema = OpRegistry::instance().find(op, domain);
  R1_CHECK(n->schema != nullptr, InternalError)
      << "a pass created op '" << op << "' (domain '" << domain << "'), which has no schema";
  return n;
}

Value* add_const(Graph& g, const std::string& base, Tensor t) {
  return g.add_constant(g.unique_name(base), std::move(t));
}

std::vector<Tensor> evaluate_node(const Node& n, const std::vector<const Tensor*>& inputs) {
  Device& cpu = BackendRegistry::instance().device("cpu");
  KernelFn k = cpu.kernels().find(n.op_type, n.domain);
  R1_CHECK(k != nullptr, InternalError) << "no CPU kernel to fold node " << n.label();
  std::vector<InferContext::InputInfo> infos(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i]) infos[i] = {inputs[i]->dtype(), &inputs[i]->shape(), inputs[i]};
  InferContext ictx(n, std::move(infos));
  run_infer(ictx);
  size_t nout = n.outputs.size();
  std::vector<DType> dtypes(nout);
  std::vector<Shape> shapes(nout);
  std::vector<bool> known(nout);
  for (size_t i = 0; i < nout; ++i) {
    dtypes[i] = ictx.output_dtype(i);
    shapes[i] = ictx.output_shape(i);
    known[i] = ictx.output_shape_known(i);
  }
  // Folding runs once at load on small tensors: one thread is enough and keeps it deterministic.
  static ThreadPool pool(1);
  std::vector<Tensor> outs(nout);
  KernelContext kctx(n, inputs, &outs, &dtypes, &shapes, &known, cpu.allocator(), pool);
  k(kctx);
  for (size_t i = 0; i < nout; ++i)
    if (n.outputs[i] && !outs[i].defined()) kctx.output(i);
  return outs;
}

bool same_shape(const Value* a, const Value* b) {
  if (!a->has_shape || !b->has_shape || a->shape.size() != b->shape.size()) return false;
  for (size_t i = 0; i < a->shape.size(); ++i)
    if (a->shape[i] != b->shape[i] || (!is_known(a->shape[i]) && !is_sym_dim(a->shape[i]))) return false;
  return true;
}

}  // namespace r1::passes
