#include "r1/runtime/residency.h"

namespace r1 {

void DeviceResidency::upload_constants(const Graph& g, const Placement& p,
                                       const std::function<bool(const Value*)>& skip) {
  constants_.resize(g.values().size());
  size_t s = 0;
  for (const auto& np : g.nodes()) {
    const StepPlacement& st = p.steps[s++];
    if (!st.on_device) continue;
    for (size_t i = 0; i < np->inputs.size(); ++i) {
      const Value* v = np->inputs[i];
      if (!v || !v->is_constant() || !st.input_on_device(i) || constants_[v->id].defined() || skip(v)) continue;
      constants_[v->id] = copy_tensor(device_, device_.allocator(), v->constant);
      bytes_ += v->constant.nbytes();
    }
  }
}

const Tensor* DeviceResidency::resident(const Value* v, const Tensor* t, bool want_device, std::vector<Tensor>& alt,
                                        Allocator* dev_alloc) {
  const bool is_dev = t->buffer() && t->buffer()->kind() == MemoryKind::Device;
  if (is_dev == want_device || !t->buffer()) return t;
  if (v->is_constant() && want_device && static_cast<size_t>(v->id) < constants_.size() && constants_[v->id].defined())
    return &constants_[v->id];
  Tensor& copy = alt[v->id];
  if (!copy.defined())
    copy = copy_tensor(device_, want_device ? (dev_alloc ? *dev_alloc : device_.allocator()) : cpu_.allocator(), *t);
  return &copy;
}

}  // namespace r1
