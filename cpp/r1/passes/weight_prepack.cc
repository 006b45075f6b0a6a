// Rewrites constant weights into the layout the target device's kernels read, once, at compile
// time (ModelConverter for a CPU profile row: the packed weights are stored in the .r1 file) or at
// load: each node whose kernel declares a prepack hook (KernelEntry::prepack; today the CPU's
// r1::FusedMatMul, whose GEMM microkernels stream 48-column panels) gets its weight rewritten by the
// hook. The pass knows no layout itself: the layout is a fact of the kernel, declared next to it.
// Runs after the precision pass (the layout depends on each node's final precision) and sees the
// final consumers of each weight, so a weight shared by several nodes is packed once per layout.
#include <map>

#include "r1/backend/registry.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

class WeightPrepack : public Pass {
 public:
  const char* name() const override { return "weight_prepack"; }
  bool run(Graph& g, const PassOptions& opts) override {
    const KernelTable& kernels = BackendRegistry::instance().device(opts.device).kernels();
    const CpuFeatures& target = opts.cpu_target ? *opts.cpu_target : cpu_features();
    std::map<std::pair<const Value*, std::string>, Value*> done;
    PrepackContext ctx{g, target, done};
    bool changed = false;
    for (Node* n : node_list(g)) {
      const KernelEntry* e = kernels.entry(n->op_type, n->domain);
      if (e && e->prepack) changed |= e->prepack(*n, ctx);
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_weight_prepack() { return std::make_unique<WeightPrepack>(); }
}  // namespace r1
