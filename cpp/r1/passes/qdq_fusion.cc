// QuantizeLinear -> DequantizeLinear pairs on activations (QDQ models, e.g. onnxruntime's quantize_static)
// become one r1::QuantDequant: the value rounded to its quantization grid and back in one pass, with no
// integer tensor between. Pairs on constants were folded already (constant_folding: weights and biases
// become float constants on their grid); static_quant_fusion then lets int8 products read the grid's
// integers directly.
//
//   q = QuantizeLinear(x, s, z); y = DequantizeLinear(q, s, z)   →   y = r1::QuantDequant(x) {scale=s, zero_point=z,
//                                                                       qmin, qmax of q's type}
// Only per-tensor (scalar) scales and zero points, equal on both sides; a QuantizeLinear with other readers
// stays for them.
//
// Dequantized constants too large for constant_folding (it refuses to grow a constant by more than 1 MiB):
// - a product's weight, DequantizeLinear(Wq) read as MatMul's or Gemm's B or Conv's W, is folded here all
//   the same: the int8 packers (precision int8, static_quant_fusion) turn it back into the same integers;
// - an embedding table, Gather(DequantizeLinear(Tq), ids) with a per-tensor scale, becomes
//   DequantizeLinear(Gather(Tq, ids)): only the gathered rows are dequantized, the table stays int8.
#include <cstring>
#include <map>
#include <vector>
#include <limits>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool int_range(DType t, int64_t* lo, int64_t* hi) {
  switch (t) {
    case DType::Int8:
      *lo = -128, *hi = 127;
      return true;
    case DType::UInt8:
      *lo = 0, *hi = 255;
      return true;
    case DType::Int16:
      *lo = std::numeric_limits<int16_t>::min(), *hi = std::numeric_limits<int16_t>::max();
      return true;
    case DType::UInt16:
      *lo = 0, *hi = std::numeric_limits<uint16_t>::max();
      return true;
    default:
      return false;
  }
}

// The scalar scale and zero point of a Q or DQ node (zero 0 when absent).
bool scalar_params(const Node* n, double* scale, double* zero) {
  if (n->inputs.size() < 2 || !scalar_constant(n->inputs[1], scale) || !(*scale > 0)) return false;
  *zero = 0;
  if (n->inputs.size() > 2 && n->inputs[2]) return scalar_constant(n->inputs[2], zero);
  return true;
}

// A DequantizeLinear of a constant (weights, tables).
Node* constant_dq(Value* v) {
  Node* dq = producer(v, "DequantizeLinear");
  return dq && dq->inputs[0] && dq->inputs[0]->is_constant() ? dq : nullptr;
}

bool fold_weight(Graph& g, Node* mm, std::map<Node*, Value*>& folded) {
  Node* dq = constant_dq(mm->inputs.size() > 1 ? mm->inputs[1] : nullptr);
  if (!dq) return false;
  for (Value* in : dq->inputs)
    if (in && !in->is_constant()) return false;
  Value*& c = folded[dq];
  if (!c) {
    std::vector<const Tensor*> ins;
    for (Value* in : dq->inputs) ins.push_back(in ? &in->constant : nullptr);
    c = add_const(g, dq->outputs[0]->name + "_folded", std::move(evaluate_node(*dq, ins)[0]));
  }
  g.set_input(mm, 1, c);
  return true;
}

// Gather(DQ(Tq, s, z), ids) -> DQ(Gather(Tq, ids), s, z) for a per-tensor s and z.
bool gather_first(Graph& g, Node* gather) {
  Node* dq = constant_dq(gather->inputs[0]);
  double s, z;
  if (!dq || !scalar_params(dq, &s, &z)) return false;
  Node* gq = add_op(g, "Gather", "", {dq->inputs[0], gather->inputs[1]}, gather->attrs, gather->name + "_int");
  std::vector<Value*> dq_in = {gq->outputs[0], dq->inputs[1]};
  if (dq->inputs.size() > 2 && dq->inputs[2]) dq_in.push_back(dq->inputs[2]);
  Node* d = add_op(g, "DequantizeLinear", "", dq_in, dq->attrs, gather->name + "_dq");
  g.replace_all_uses(gather->outputs[0], d->outputs[0]);
  return true;
}

class QdqFusion : public Pass {
 public:
  const char* name() const override { return "qdq_fusion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "QuantDequant", "r1")) return false;
    bool changed = false;
    std::map<Node*, Value*> folded;
    for (Node* n : node_list(g)) {
      if (!n->domain.empty()) continue;
      const bool weighted = n->op_type == "MatMul" || n->op_type == "Gemm" || n->op_type == "Conv";
      if (weighted && fold_weight(g, n, folded)) changed = true;
      if (n->op_type == "Gather" && gather_first(g, n)) changed = true;
    }
    for (Node* dq : node_list(g)) {
      if (dq->op_type != "DequantizeLinear" || !dq->domain.empty() || !dq->outputs[0]) continue;
      Node* q = producer(dq->inputs[0], "QuantizeLinear");
      if (!q || !q->inputs[0] || q->inputs[0]->dtype != DType::Float32 || q->inputs[0]->is_constant()) continue;
      double qs, qz, ds, dz;
      int64_t lo, hi;
      if (!scalar_params(q, &qs, &qz) || !scalar_params(dq, &ds, &dz) || qs != ds || qz != dz) continue;
      if (!int_range(q->outputs[0]->dtype, &lo, &hi) || dq->outputs[0]->dtype != DType::Float32) continue;
      if (q->attrs.get_int("saturate", 1) == 0) continue;
      AttributeMap attrs;
      attrs.set("scale", Attribute::make_float(static_cast<float>(qs)));
      attrs.set("zero_point", Attribute::make_int(static_cast<int64_t>(qz)));
      attrs.set("qmin", Attribute::make_int(lo));
      attrs.set("qmax", Attribute::make_int(hi));
      Node* f = add_op(g, "QuantDequant", "r1", {q->inputs[0]}, std::move(attrs), dq->name + "_qdq");
      g.replace_all_uses(dq->outputs[0], f->outputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_qdq_fusion() { return std::make_unique<QdqFusion>(); }
}  // namespace r1
