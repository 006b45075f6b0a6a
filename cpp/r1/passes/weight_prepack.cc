// Packs each r1::FusedMatMul's constant weight once, at load, into the panel layout (fp32 or bf16
// pairs) that this CPU's GEMM microkernels stream (cpp/r1/cpu/gemm/pack.h), so no run pays for a
// transpose, a conversion or strided weight reads. Runs last: it needs the final precision of each
// node. A weight shared by several nodes (tied embeddings) is packed once per layout. A weight no
// node reads any more after packing, when it lies in a mapped .r1 file, has its resident pages
// dropped: otherwise the process would hold the weights twice (mapped and packed).
#include <map>

#include "r1/core/cpu_features.h"
#include "r1/cpu/gemm/pack.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

class WeightPrepack : public Pass {
 public:
  const char* name() const override { return "weight_prepack"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (opts.device != "cpu") return false;  // the CPU packer's layout
    // The packed microkernels are AVX-512 code; elsewhere the kernel's OpenBLAS path reads plain B.
    if (!cpu_features().has_avx512_kernels()) return false;
    bool changed = false;
    std::map<std::pair<const Value*, std::string>, Value*> packed;
    for (Node* n : node_list(g)) {
      if (n->domain != "r1" || n->op_type != "FusedMatMul" || n->attrs.get_int("packed_b", 0)) continue;
      Value* w = n->inputs[1];
      if (!w || !w->is_constant() || w->constant.rank() != 2 || !is_float(w->constant.dtype())) continue;
      bool trans_b = n->attrs.get_int("trans_b", 0) != 0;
      std::string precision = n->attrs.get_string("precision", "fp32");
      auto key = std::make_pair(static_cast<const Value*>(w), precision + (trans_b ? "/t" : "/n"));
      Value*& blob = packed[key];
      if (!blob)
        blob = add_const(g, w->name + "_packed_" + precision, cpu::gemm::pack_weights(w->constant, trans_b, precision));
      int64_t k = trans_b ? w->constant.dim(1) : w->constant.dim(0);
      int64_t cols = trans_b ? w->constant.dim(0) : w->constant.dim(1);
      g.set_input(n, 1, blob);
      n->attrs.set("packed_b", Attribute::make_int(1));
      n->attrs.set("k", Attribute::make_int(k));
      n->attrs.set("n", Attribute::make_int(cols));
      n->attrs.set("trans_b", Attribute::make_int(0));
      changed = true;
      // Right away, not at the end: the peak then holds one unpacked weight, not all of them.
      if (w->consumers.empty() && w->constant.buffer())
        w->constant.buffer()->drop_resident_pages(w->constant.byte_offset(), w->constant.nbytes());
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_weight_prepack() { return std::make_unique<WeightPrepack>(); }
}  // namespace r1
