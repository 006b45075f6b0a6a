#include "r1/backend/kernel.h"

#include <algorithm>

#include "r1/backend/device.h"

namespace r1 {

const Tensor& KernelContext::input(size_t i) const {
  R1_CHECK(has_input(i), ModelError) << "node " << node_.label() << " needs input " << i << " but none was given";
  return *inputs_[i];
}

SubgraphRunner& KernelContext::subgraphs() const {
  R1_CHECK(subgraphs_ != nullptr, InternalError)
      << "node " << node_.label() << " runs a subgraph, which only an executor can do (not constant folding)";
  return *subgraphs_;
}

Tensor& KernelContext::output(size_t i) {
  R1_CHECK(i < outputs_->size(), InternalError) << "node " << node_.label() << " has no output " << i;
  Tensor& t = (*outputs_)[i];
  if (!t.defined()) {
    R1_CHECK((*out_known_)[i], InternalError)
        << "node " << node_.label() << ": output " << i << " has a data-dependent shape; use allocate_output";
    return allocate_output(i, (*out_shapes_)[i], (*out_dtypes_)[i]);
  }
  return t;
}

Tensor& KernelContext::allocate_output(size_t i, const Shape& shape, DType dtype) {
  R1_CHECK(i < outputs_->size(), InternalError) << "node " << node_.label() << " has no output " << i;
  uint64_t bytes = 0;
  R1_CHECK(checked_nbytes(shape, dtype_size(dtype), &bytes), InputError)
      << "output " << i << " of shape " << shape_str(shape) << " (" << dtype_name(dtype) << ") is too large";
  if (i < 64) allocated_ |= uint64_t{1} << i;
  if (dtype == DType::String) {  // strings are objects, never arena bytes
    (*outputs_)[i] = Tensor::empty(dtype, shape);
    return (*outputs_)[i];
  }
  if (placements_ && placements_[i].arena && bytes <= placements_[i].capacity) {
    (*outputs_)[i] = Tensor(dtype, shape, *placements_[i].arena, placements_[i].offset);
  } else {
    (*outputs_)[i] = Tensor(dtype, shape, alloc_.allocate(bytes));
  }
  return (*outputs_)[i];
}

void KernelContext::set_output(size_t i, Tensor t) {
  R1_CHECK(i < outputs_->size(), InternalError) << "node " << node_.label() << " has no output " << i;
  if (i < 64) allocated_ &= ~(uint64_t{1} << i);
  (*outputs_)[i] = std::move(t);
}

static std::string op_key(const std::string& op, const std::string& domain) {
  return domain.empty() || domain == "ai.onnx" ? op : domain + "::" + op;
}

KernelEntry& KernelTable::add(const std::string& op_type, KernelFn fn, const std::string& domain, uint32_t host_inputs,
                              KernelSupportsFn supports) {
  KernelEntry e;
  e.fn = fn;
  e.host_inputs = host_inputs;
  e.supports = supports;
  return add(op_type, domain, e);
}

KernelEntry& KernelTable::add(const std::string& op_type, const std::string& domain, const KernelEntry& entry) {
  return map_[op_key(op_type, domain)] = entry;
}

const KernelEntry* KernelTable::entry(const std::string& op_type, const std::string& domain) const {
  auto it = map_.find(op_key(op_type, domain));
  return it == map_.end() ? nullptr : &it->second;
}

KernelFn KernelTable::find(const std::string& op_type, const std::string& domain) const {
  const KernelEntry* e = entry(op_type, domain);
  return e ? e->fn : nullptr;
}

namespace {
bool float_type(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }
}  // namespace

bool supports_float_types(const Node& n, uint32_t host_inputs) {
  bool any_float = false;
  auto check = [&](const Value* v) {
    if (!v) return true;
    any_float |= float_type(v->dtype);
    return float_type(v->dtype) || v->dtype == DType::Bool;
  };
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!(i < 32 && ((host_inputs >> i) & 1)) && !check(n.inputs[i])) return false;
  for (const Value* v : n.outputs)
    if (!check(v)) return false;
  return any_float;
}

bool supports_any_dtype(const Node&) { return true; }

std::vector<std::string> KernelTable::op_names() const {
  std::vector<std::string> v;
  for (auto& kv : map_) v.push_back(kv.first);
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace r1
