#include "r1/ir/op_registry.h"
#include "r1/ir/ops/wide_types.h"

#include <algorithm>
#include <mutex>

namespace r1 {

DType InferContext::input_dtype(size_t i) const {
  R1_CHECK(has_input(i), ModelError) << "node " << node_.label() << " needs input " << i;
  return inputs_[i].dtype;
}

const Shape& InferContext::input_shape(size_t i) const {
  R1_CHECK(has_input(i), ModelError) << "node " << node_.label() << " needs input " << i;
  if (!inputs_[i].shape) throw ShapeUnknown{};
  return *inputs_[i].shape;
}

bool InferContext::input_ints(size_t i, std::vector<int64_t>* out) const {
  const Tensor* t = input_value(i);
  if (!t) return false;
  *out = t->to_int64_vector();
  return true;
}

void InferContext::set_output(size_t i, DType dtype, Shape shape) {
  if (i >= out_dtypes_.size()) return;  // optional output not requested
  out_dtypes_[i] = dtype;
  out_shapes_[i] = std::move(shape);
  out_known_[i] = true;
}

void InferContext::set_output_dtype(size_t i, DType dtype) {
  if (i >= out_dtypes_.size()) return;
  out_dtypes_[i] = dtype;
  out_known_[i] = false;
}

OpRegistry& OpRegistry::instance() {
  static OpRegistry* reg = [] {
    static OpRegistry r;
    register_all_ops(r);
    return &r;
  }();
  return *reg;
}

static std::string key(const std::string& op, const std::string& domain) {
  return domain.empty() || domain == "ai.onnx" ? op : domain + "::" + op;
}

void OpRegistry::add(OpSchema schema) {
  std::string k = key(schema.op_type, schema.domain);
  map_[k] = std::move(schema);
}

const OpSchema* OpRegistry::find(const std::string& op_type, const std::string& domain) const {
  auto it = map_.find(key(op_type, domain));
  return it == map_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::op_names() const {
  std::vector<std::string> names;
  for (auto& kv : map_) names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_heavy(const Node& n) { return n.schema != nullptr && n.schema->heavy; }

bool is_random(const Node& n) {
  return n.domain.empty() &&
         (n.op_type.rfind("Random", 0) == 0 || n.op_type == "Bernoulli" || n.op_type == "Multinomial");
}

// A wide element type (float64, int16, uint16, uint32, uint64) reaches only the ops listed in
// ir/ops/wide_types.cc: every other kernel computes in the narrow types.
void check_wide_types(const InferContext& ctx) {
  const Node& n = ctx.node();
  if (!takes_strings(n.op_type, n.domain)) {
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      R1_CHECK(!ctx.has_input(i) || ctx.input_dtype(i) != DType::String, ModelError)
          << n.op_type << " does not support an input of dtype string (strings go to the string ops, Equal and "
          << "the ops that pass values through)";
    for (size_t i = 0; i < ctx.num_outputs(); ++i)
      R1_CHECK(ctx.output_dtype(i) != DType::String, ModelError) << n.op_type << " does not support string outputs";
  }
  if (takes_wide_types(n.op_type, n.domain)) return;
  auto reject = [&](DType t, const char* what) {
    // (run_infer puts the node's label in front)
    R1_THROW(ModelError) << n.op_type << " does not support " << what << " of dtype " << dtype_name(t)
                         << " (float64, int16, uint16, uint32 and uint64 are taken by elementwise arithmetic, "
                            "comparisons, reductions and data movement)";
  };
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && is_wide_dtype(ctx.input_dtype(i))) reject(ctx.input_dtype(i), "an input");
  for (size_t i = 0; i < ctx.num_outputs(); ++i)
    if (is_wide_dtype(ctx.output_dtype(i))) reject(ctx.output_dtype(i), "an output");
}

void run_infer(InferContext& ctx) {
  const Node& n = ctx.node();
  try {
    n.schema->infer(ctx);
    check_wide_types(ctx);
  } catch (const InferContext::ShapeUnknown&) {
    throw;
  } catch (const InputError& e) {
    throw InputError("node " + n.label() + ": " + e.what());
  } catch (const Error& e) {
    throw ModelError("node " + n.label() + ": " + e.what());
  }
}

void infer_shapes(Graph& g) {
  for (auto& np : g.nodes()) {
    Node& n = *np;
    std::vector<InferContext::InputInfo> infos;
    for (Value* in : n.inputs) {
      InferContext::InputInfo info;
      if (in) {
        info.dtype = in->dtype;
        info.shape = in->has_shape ? &in->shape : nullptr;
        info.value = in->is_constant() ? &in->constant : nullptr;
        // (A subgraph input stays untyped where its outer value's type depends on the data.)
        R1_CHECK(in->dtype != DType::Undefined || in->producer || (g.is_subgraph() && in->is_graph_input), ModelError)
            << "node " << n.label() << " reads '" << in->name << "', which has no type";
      }
      infos.push_back(info);
    }
    // An input whose dtype is still unknown (its producer could not be inferred) stops inference here.
    bool dtypes_known = true;
    for (Value* in : n.inputs)
      if (in && in->dtype == DType::Undefined) dtypes_known = false;
    if (!dtypes_known) continue;
    if (n.schema->bind_subgraphs) n.schema->bind_subgraphs(n, g);
    InferContext ctx(n, std::move(infos));
    try {
      run_infer(ctx);
    } catch (const InferContext::ShapeUnknown&) {
      continue;
    } catch (const InputError& e) {
      // At compile time an incompatible static shape is a model error.
      throw ModelError(e.what());
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      Value* out = n.outputs[i];
      if (!out) continue;
      out->dtype = ctx.output_dtype(i);
      out->kind = ctx.output_kind(i);
      out->has_shape = ctx.output_shape_known(i) && out->kind == ValueKind::Tensor;
      out->shape = out->has_shape ? ctx.output_shape(i) : Shape{};
    }
  }
}

}  // namespace r1
