// Rewrites constant weights into the layout the target device's kernels read, once, at compile
// time (ModelConverter for a CPU profile row: the packed weights are stored in the .r1 file) or at
// load: each node whose kernel declares a prepack hook (KernelEntry::prepack; today the CPU's
// r1::FusedMatMul, whose GEMM microkernels stream 48-column panels) gets its weight rewritten by the
// hook. The pass knows no layout itself: the layout is a fact of the kernel, declared next to it.
// Runs after the precision pass (the layout depends on each node's final precision) and sees the
// final consumers of each weight, so a weight shared by several nodes is packed once per layout.
// A device whose kernel declares no hook reads weights as they are in the ONNX graph: where a file
// compiled for a CPU holds them packed, the CPU's own hook turns them back into plain ones (for a
// target CPU without packed kernels, its hook's no-op otherwise).
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
    BackendRegistry& reg = BackendRegistry::instance();
    const KernelTable& kernels = reg.device(opts.device).kernels();
    const KernelTable* cpu = opts.device == "cpu" ? nullptr : &reg.device("cpu").kernels();
    const CpuFeatures& target = opts.cpu_target ? *opts.cpu_target : cpu_features();
    const CpuFeatures plain;  // no packed kernels: the layout of the ONNX graph
    std::map<std::pair<const Value*, std::string>, Value*> done;
    PrepackContext ctx{g, target, done, !opts.cpu_target.has_value()}, to_plain{g, plain, done, false};
    bool changed = false;
    for (Node* n : node_list(g)) {
      const KernelEntry* e = kernels.entry(n->op_type, n->domain);
      if (e && e->prepack) {
        changed |= e->prepack(*n, ctx);
      } else if (cpu) {
        const KernelEntry* c = cpu->entry(n->op_type, n->domain);
        if (c && c->prepack) changed |= c->prepack(*n, to_plain);
      }
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_weight_prepack() { return std::make_unique<WeightPrepack>(); }
}  // namespace r1
