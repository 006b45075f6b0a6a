// Conv [+ residual] [+ activation] → r1::FusedConv: the kernel adds the shortcut and applies the
// activation to each output tile while it is in cache (ResNet's relu(conv + shortcut), MobileNet's
// HardSwish/ReLU6 after depthwise convs).
#include "r1/passes/activation_match.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

// The residual may join the conv unless its shape provably cannot broadcast with the conv output (the
// kernel handles a residual that enlarges the output, so unknown spatial dims are no obstacle).
bool residual_compatible(const Value* res, const Value* out) {
  if (!res->has_shape || !out->has_shape || res->shape.size() > out->shape.size()) return false;
  size_t off = out->shape.size() - res->shape.size();
  for (size_t i = 0; i < res->shape.size(); ++i) {
    int64_t d = res->shape[i], o = out->shape[off + i];
    if (is_known(d) && is_known(o) && d != o && d != 1 && o != 1) return false;
  }
  return true;
}

class ConvFusion : public Pass {
 public:
  const char* name() const override { return "conv_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "FusedConv", "r1")) return false;
    bool changed = false;
    for (Node* conv : node_list(g)) {
      if (conv->op_type != "Conv" || !(conv->domain.empty() || conv->domain == "ai.onnx")) continue;
      Value* x = conv->inputs[0];
      Value* w = conv->inputs[1];
      if (!x || x->dtype != DType::Float32 || !w || !w->is_constant()) continue;
      Value* out = conv->outputs[0];
      AttributeMap attrs = conv->attrs;
      Value* residual = nullptr;
      Node* act = fusable_activation(out, &attrs);
      if (act) {
        out = act->outputs[0];
      } else if (only_reader(out) && out->consumers[0]->op_type == "Add" && out->consumers[0]->domain.empty()) {
        Node* add = out->consumers[0];
        Value* other = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
        if (other && other != out && other->dtype == out->dtype && residual_compatible(other, out)) {
          residual = other;
          out = add->outputs[0];
          if (Node* a2 = fusable_activation(out, &attrs)) out = a2->outputs[0];
        }
      }
      if (!act && !residual) continue;  // a plain Conv gains nothing from the rename
      Value* b = conv->inputs.size() > 2 ? conv->inputs[2] : nullptr;
      Node* f = add_op(g, "FusedConv", "r1", {x, w, b, residual}, std::move(attrs), conv->name + "_fused");
      g.replace_all_uses(out, f->outputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_conv_fusion() { return std::make_unique<ConvFusion>(); }
}  // namespace r1
