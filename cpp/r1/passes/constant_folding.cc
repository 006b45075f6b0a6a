// Evaluates, once at load, every node whose inputs are all constants, and replaces its outputs by
// the results: weight transposes and reshapes the exporter left in the graph, and the shape
// arithmetic that shape_folding made constant. Nodes that would create a much larger constant
// than they read (Expand, Tile, ConstantOfShape to big shapes) are left alone: folding them would
// trade a cheap op for resident memory.
#include "r1/ir/op_registry.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {

constexpr size_t kMaxGrowthBytes = 1 << 20;

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "constant_folding"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* n : passes::node_list(g)) {
      if (!n->schema || is_random(*n)) continue;  // a random draw happens at run time
      bool all_const = true;
      size_t in_bytes = 0;
      std::vector<const Tensor*> ins;
      for (Value* v : n->inputs) {
        if (v && !v->is_constant()) all_const = false;
        if (v && v->is_constant()) in_bytes += v->constant.nbytes();
        ins.push_back(v && v->is_constant() ? &v->constant : nullptr);
      }
      if (!all_const) continue;
      bool to_output = false, used = false;
      for (Value* o : n->outputs) {
        if (!o) continue;
        to_output |= o->is_graph_output;
        used |= !o->consumers.empty();
      }
      if (to_output || !used) continue;  // a constant graph output stays computed; dead nodes go
      // Sequences and optionals are not constants (a constant is a tensor): their producers stay.
      bool tensors_only = true;
      for (Value* o : n->outputs) tensors_only = tensors_only && (!o || o->kind == ValueKind::Tensor);
      if (!tensors_only) continue;
      size_t out_bytes = 0;
      for (Value* o : n->outputs)
        if (o && o->has_shape && o->dtype != DType::Undefined) {
          int64_t count = 1;
          bool known = true;
          for (int64_t d : o->shape) {
            if (!is_known(d))
              known = false;
            else
              count *= d;
          }
          if (known) out_bytes += static_cast<size_t>(count) * dtype_size(o->dtype);
        }
      if (out_bytes > in_bytes + kMaxGrowthBytes) continue;
      std::vector<Tensor> outs;
      try {
        outs = passes::evaluate_node(*n, ins);
      } catch (const Error&) {
        continue;  // leave it to run time, where the error (if any) names the inputs that caused it
      }
      for (size_t i = 0; i < n->outputs.size(); ++i) {
        Value* o = n->outputs[i];
        if (!o || o->consumers.empty()) continue;
        Value* c = passes::add_const(g, o->name + "_folded", outs[i]);
        g.replace_all_uses(o, c);
      }
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }
}  // namespace r1
