// Removes ops that pass their input through unchanged at inference: Identity, Dropout (whose mask
// output nobody reads), and Cast to the dtype the input already has. They hide fusion patterns.
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
class IdentityElimination : public Pass {
 public:
  const char* name() const override { return "identity_elimination"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* n : passes::node_list(g)) {
      if (!n->domain.empty() && n->domain != "ai.onnx") continue;
      if (n->inputs.empty() || !n->inputs[0] || n->outputs.empty() || !n->outputs[0]) continue;
      Value* in = n->inputs[0];
      Value* out = n->outputs[0];
      bool pass_through = false;
      if (n->op_type == "Identity") {
        pass_through = true;
      } else if (n->op_type == "Dropout") {
        // Inference mode only: a training_mode input that is not a constant false keeps the node.
        bool training = false;
        if (n->inputs.size() > 2 && n->inputs[2]) {
          double t;
          training = !passes::scalar_constant(n->inputs[2], &t) || t != 0;
        }
        bool mask_used = n->outputs.size() > 1 && n->outputs[1] &&
                         (!n->outputs[1]->consumers.empty() || n->outputs[1]->is_graph_output);
        pass_through = !training && !mask_used;
      } else if (n->op_type == "Cast") {
        pass_through = in->dtype != DType::Undefined && out->dtype == in->dtype;
      }
      if (!pass_through) continue;
      // An input, weight or another output passed straight to a graph output keeps its Identity.
      if (out->is_graph_output && (!in->producer || in->is_graph_output)) continue;
      g.replace_all_uses(out, in);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_identity_elimination() { return std::make_unique<IdentityElimination>(); }
}  // namespace r1
