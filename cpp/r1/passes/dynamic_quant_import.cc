// The int8 products of models quantized by onnxruntime's quantize_dynamic become int8 r1::FusedMatMuls:
//
//   (q, s, z) = DynamicQuantizeLinear(x)
//   acc = MatMulInteger(q, Wq, z [, wz = 0]); f = Cast(acc, to=float); y = Mul(f, Mul(s, sw))
//     →  y = r1::FusedMatMul(x, Wq * sw) {precision="int8", quantized=1, act_quant="tensor"}
//
// The weight is stored as its dequantized values (Wq * sw, on the int8 grid of each column), which the
// int8 packer maps back to the same integers; A is quantized per tensor at run time exactly as
// DynamicQuantizeLinear defines it. matmul_fusion then absorbs the bias Add and activation that follow.
// Weights with a nonzero zero point (uint8 weights) are left to the reference kernels.
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool all_zero(const Value* v) {
  if (!v) return true;
  if (!v->is_constant()) return false;
  for (int64_t i = 0; i < v->constant.numel(); ++i)
    if (v->constant.scalar_as_double(i) != 0) return false;
  return true;
}

// The sole reader of v when it is `op` (default domain), else nullptr.
Node* sole(Value* v, const char* op) {
  if (!v || !only_reader(v)) return nullptr;
  Node* n = v->consumers[0];
  return n->op_type == op && n->domain.empty() ? n : nullptr;
}

class DynamicQuantImport : public Pass {
 public:
  const char* name() const override { return "dynamic_quant_import"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (!can_create(opts, "FusedMatMul", "r1")) return false;
    bool changed = false;
    for (Node* mi : node_list(g))
      if (mi->op_type == "MatMulInteger" && mi->domain.empty()) changed |= rewrite(g, mi);
    return changed;
  }

 private:
  bool rewrite(Graph& g, Node* mi) {
    Node* dql = producer(mi->inputs[0], "DynamicQuantizeLinear");
    if (!dql || mi->inputs.size() < 3 || mi->inputs[2] != dql->outputs[2]) return false;
    Value* x = dql->inputs[0];
    Value* wq = mi->inputs[1];
    if (!x || x->dtype != DType::Float32 || !wq || !wq->is_constant() || wq->constant.dtype() != DType::Int8 ||
        wq->constant.rank() != 2)
      return false;
    if (mi->inputs.size() > 3 && !all_zero(mi->inputs[3])) return false;
    if (x->has_shape && x->shape.size() < 2) return false;
    Node* cast = sole(mi->outputs[0], "Cast");
    if (!cast || cast->attrs.get_int("to", 0) != static_cast<int64_t>(DType::Float32)) return false;
    Node* mul = sole(cast->outputs[0], "Mul");
    if (!mul) return false;
    Value* scales = mul->inputs[0] == cast->outputs[0] ? mul->inputs[1] : mul->inputs[0];
    Node* smul = producer(scales, "Mul");
    if (!smul) return false;
    Value* sw = smul->inputs[0] == dql->outputs[1]   ? smul->inputs[1]
                : smul->inputs[1] == dql->outputs[1] ? smul->inputs[0]
                                                     : nullptr;
    const int64_t K = wq->constant.dim(0), N = wq->constant.dim(1);
    if (!sw || !sw->is_constant() || sw->constant.dtype() != DType::Float32 ||
        (sw->constant.numel() != 1 && sw->constant.numel() != N))
      return false;
    Tensor w = Tensor::empty(DType::Float32, {K, N});
    const int8_t* q = wq->constant.data<int8_t>();
    const float* s = sw->constant.data<float>();
    float* d = w.data<float>();
    const bool per_col = sw->constant.numel() == N;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) d[k * N + j] = static_cast<float>(q[k * N + j]) * s[per_col ? j : 0];
    AttributeMap attrs;
    attrs.set("precision", Attribute::make_string("int8"));
    attrs.set("quantized", Attribute::make_int(1));
    attrs.set("act_quant", Attribute::make_string("tensor"));
    Value* wv = add_const(g, wq->name + "_dequantized", std::move(w));
    Node* f = add_op(g, "FusedMatMul", "r1", {x, wv}, std::move(attrs), mi->name + "_int8");
    g.replace_all_uses(mul->outputs[0], f->outputs[0]);
    return true;
  }
};
}  // namespace
std::unique_ptr<Pass> make_dynamic_quant_import() { return std::make_unique<DynamicQuantImport>(); }
}  // namespace r1
