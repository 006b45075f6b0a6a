// precision="bf16": the fused GEMM and attention kernels compute with bf16 products and fp32
// accumulation (AVX512-BF16 where present). Tensors between ops stay fp32, so every other op and
// the model's inputs and outputs keep their dtypes; only the fused ops' `precision` changes.
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
class Precision : public Pass {
 public:
  const char* name() const override { return "precision"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (opts.precision == "fp32") return false;
    bool changed = false;
    for (Node* n : passes::node_list(g)) {
      if (n->domain != "r1" || (n->op_type != "FusedMatMul" && n->op_type != "Attention")) continue;
      if (n->attrs.get_string("precision", "fp32") == opts.precision) continue;
      n->attrs.set("precision", Attribute::make_string(opts.precision));
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_precision() { return std::make_unique<Precision>(); }
}  // namespace r1
