#include "r1/runtime/executor.h"

#include <unordered_map>

#include "r1/ir/op_registry.h"

namespace r1 {

Executor::Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads)
    : graph_(std::move(graph)), device_(device), pool_(std::make_unique<ThreadPool>(num_threads)) {
  const KernelTable& table = device_.kernels();
  std::unordered_map<int, int> last_reader;  // value id -> step index
  for (auto& n : graph_->nodes()) {
    KernelFn k = table.find(n->op_type, n->domain);
    R1_CHECK(k != nullptr, ModelError) << "op '" << n->op_type << "' in node '" << n->name
                                       << "' has no kernel on device " << device_.name();
    steps_.push_back({n.get(), k, {}});
    for (const Value* in : n->inputs)
      if (in) last_reader[in->id] = static_cast<int>(steps_.size()) - 1;
  }
  for (auto& kv : last_reader) {
    const Value* v = graph_->values()[kv.first].get();
    if (!v->is_graph_output && !v->is_constant()) steps_[kv.second].release.push_back(kv.first);
  }
}

Executor::~Executor() = default;

void Executor::check_inputs(const std::vector<Tensor>& inputs) const {
  const auto& decl = graph_->inputs();
  R1_CHECK(inputs.size() == decl.size(), InputError)
      << "the model takes " << decl.size() << " inputs, got " << inputs.size();
  std::unordered_map<int, std::pair<int64_t, std::string>> bound;  // symbol -> (value, input)
  for (size_t i = 0; i < decl.size(); ++i) {
    const Value* v = decl[i];
    const Tensor& t = inputs[i];
    R1_CHECK(t.dtype() == v->dtype, InputError) << "input '" << v->name << "' must be " << dtype_name(v->dtype)
                                                << ", got " << dtype_name(t.dtype());
    R1_CHECK(t.rank() == static_cast<int>(v->shape.size()), InputError)
        << "input '" << v->name << "' must have shape " << shape_str(v->shape, &graph_->symbols()) << " (rank "
        << v->shape.size() << "), got " << shape_str(t.shape()) << " (rank " << t.rank() << ")";
    for (int d = 0; d < t.rank(); ++d) {
      int64_t want = v->shape[d], got = t.shape()[d];
      if (is_known(want)) {
        R1_CHECK(want == got, InputError) << "input '" << v->name << "' must have shape "
                                          << shape_str(v->shape, &graph_->symbols()) << ", got " << shape_str(t.shape())
                                          << " (dim " << d << " must be " << want << ")";
      } else if (is_sym_dim(want)) {
        auto it = bound.find(sym_index(want));
        if (it == bound.end()) {
          bound[sym_index(want)] = {got, v->name};
        } else {
          R1_CHECK(it->second.first == got, InputError)
              << "dim '" << graph_->symbols()[sym_index(want)] << "' is " << it->second.first << " in input '"
              << it->second.second << "' but " << got << " in input '" << v->name << "'";
        }
      }
    }
  }
}

void Executor::run_step(const Step& step, std::vector<Tensor>& env) const {
  const Node& n = *step.node;
  std::vector<const Tensor*> ins(n.inputs.size(), nullptr);
  std::vector<InferContext::InputInfo> infos(n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value* v = n.inputs[i];
    if (!v) continue;
    const Tensor* t = v->is_constant() ? &v->constant : &env[v->id];
    R1_CHECK(t->defined(), InternalError) << "node " << n.label() << ": input '" << v->name << "' was not computed";
    ins[i] = t;
    infos[i] = {t->dtype(), &t->shape(), t};
  }
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
  std::vector<Tensor> outs(nout);
  KernelContext kctx(n, std::move(ins), &outs, &dtypes, &shapes, &known, device_.allocator(), *pool_);
  try {
    step.kernel(kctx);
  } catch (const InputError& e) {
    throw InputError("node " + n.label() + ": " + e.what());
  } catch (const ModelError& e) {
    throw ModelError("node " + n.label() + ": " + e.what());
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw DeviceError("node " + n.label() + ": out of memory");
  } catch (const std::exception& e) {
    // Anything else from a kernel is our bug; say where it happened.
    throw InternalError("node " + n.label() + ": " + e.what());
  }
  for (size_t i = 0; i < nout; ++i) {
    if (!n.outputs[i]) continue;
    if (!outs[i].defined()) kctx.output(i);  // a kernel that wrote nothing still yields a tensor
    env[n.outputs[i]->id] = std::move(outs[i]);
  }
  for (int id : step.release) env[id] = Tensor();
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  check_inputs(inputs);
  std::vector<Tensor> env(graph_->values().size());
  for (size_t i = 0; i < inputs.size(); ++i) env[graph_->inputs()[i]->id] = inputs[i];
  for (const Step& s : steps_) run_step(s, env);
  std::vector<Tensor> outs;
  for (const Value* v : graph_->outputs()) outs.push_back(v->is_constant() ? v->constant : env[v->id]);
  return outs;
}

}  // namespace r1
