// The int8 products of models quantized by onnxruntime's quantize_dynamic become int8 r1::FusedMatMuls:
//
//   (q, s, z) = DynamicQuantizeLinear(x)
//   acc = MatMulInteger(q, Wq, z [, wz = 0]); f = Cast(acc, to=float); y = Mul(f, Mul(s, sw))
//     →  y = r1::FusedMatMul(x, Wq * sw) {precision="int8", quantized=1, act_quant="tensor"}
//
// The weight is stored as its dequantized values (Wq * sw, on the int8 grid of each column), which the
// int8 packer maps back to the same integers; A is quantized per tensor at run time exactly as
// DynamicQuantizeLinear defines it. matmul_fusion then absorbs the bias Add and activation that follow.
// ConvInteger the same way, into an int8 Conv (ONNX Conv with the precision attrs; conv_fusion keeps them).
// Weights with a nonzero zero point (uint8 weights) are left to the reference kernels.
#include <algorithm>

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
    for (Node* mi : node_list(g)) {
      if (mi->op_type == "MatMulInteger" && mi->domain.empty()) changed |= rewrite(g, mi);
      if (mi->op_type == "ConvInteger" && mi->domain.empty()) changed |= rewrite_conv(g, mi);
    }
    return changed;
  }

 private:
  // The pattern's common part: (q, s, z) = DynamicQuantizeLinear(x) read by `mi` as (q, ., z); its int32
  // output cast to float and multiplied by Mul(s, sw). Returns the outer Mul, x and sw (else nullptr).
  Node* scaled(Node* mi, Value** x, Value** sw) {
    Node* dql = producer(mi->inputs[0], "DynamicQuantizeLinear");
    if (!dql || mi->inputs.size() < 3 || mi->inputs[2] != dql->outputs[2]) return nullptr;
    *x = dql->inputs[0];
    if (!*x || (*x)->dtype != DType::Float32) return nullptr;
    if (mi->inputs.size() > 3 && !all_zero(mi->inputs[3])) return nullptr;
    Node* cast = sole(mi->outputs[0], "Cast");
    if (!cast || cast->attrs.get_int("to", 0) != static_cast<int64_t>(DType::Float32)) return nullptr;
    Node* mul = sole(cast->outputs[0], "Mul");
    if (!mul) return nullptr;
    Value* scales = mul->inputs[0] == cast->outputs[0] ? mul->inputs[1] : mul->inputs[0];
    Node* smul = producer(scales, "Mul");
    if (!smul) return nullptr;
    *sw = smul->inputs[0] == dql->outputs[1]   ? smul->inputs[1]
          : smul->inputs[1] == dql->outputs[1] ? smul->inputs[0]
                                               : nullptr;
    if (!*sw || !(*sw)->is_constant() || (*sw)->constant.dtype() != DType::Float32) return nullptr;
    return mul;
  }

  // ConvInteger (weights int8 [M, C/g, ...], scale per tensor or per output channel) -> an int8 Conv on the
  // dequantized weights; a following Add of a constant [1, M, 1, ...] becomes its bias. conv_fusion then
  // fuses the activation and residual into an r1::FusedConv, keeping the attrs.
  bool rewrite_conv(Graph& g, Node* ci) {
    Value *x = nullptr, *sw = nullptr;
    Node* mul = scaled(ci, &x, &sw);
    Value* wq = ci->inputs[1];
    if (!mul || !wq || !wq->is_constant() || wq->constant.dtype() != DType::Int8 || wq->constant.rank() < 3)
      return false;
    const int64_t M = wq->constant.dim(0), per = wq->constant.numel() / std::max<int64_t>(M, 1);
    if (sw->constant.numel() != 1 && sw->constant.numel() != M) return false;
    Tensor w = Tensor::empty(DType::Float32, wq->constant.shape());
    const int8_t* q = wq->constant.data<int8_t>();
    const float* s = sw->constant.data<float>();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < per; ++i)
        w.data<float>()[m * per + i] = static_cast<float>(q[m * per + i]) * s[sw->constant.numel() == 1 ? 0 : m];
    Value* out = mul->outputs[0];
    Value* bias = nullptr;
    if (only_reader(out) && out->consumers[0]->op_type == "Add" && out->consumers[0]->domain.empty()) {
      Node* add = out->consumers[0];
      Value* b = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
      const Shape& bs = b && b->is_constant() ? b->constant.shape() : Shape{};
      // [M], [M, 1, ...] or [1, M, 1, ...]: one value per output channel, along axis 1 of the output
      bool channel = b && b->is_constant() && b->constant.dtype() == DType::Float32 && b->constant.numel() == M &&
                     bs.size() + 1 >= static_cast<size_t>(wq->constant.rank()) &&
                     bs.size() <= static_cast<size_t>(wq->constant.rank()) &&
                     bs[bs.size() + 1 - static_cast<size_t>(wq->constant.rank())] == M;
      if (channel) {
        Tensor flat = Tensor::empty(DType::Float32, {M});
        std::copy(b->constant.data<float>(), b->constant.data<float>() + M, flat.data<float>());
        bias = add_const(g, b->name + "_bias", std::move(flat));
        out = add->outputs[0];
      }
    }
    AttributeMap attrs = ci->attrs;
    attrs.set("precision", Attribute::make_string("int8"));
    attrs.set("quantized", Attribute::make_int(1));
    attrs.set("act_quant", Attribute::make_string("tensor"));
    Value* wv = add_const(g, wq->name + "_dequantized", std::move(w));
    Node* conv = add_op(g, "Conv", "", {x, wv, bias}, std::move(attrs), ci->name + "_int8");
    g.replace_all_uses(out, conv->outputs[0]);
    return true;
  }

  bool rewrite(Graph& g, Node* mi) {
    Value *x = nullptr, *sw = nullptr;
    Node* mul = scaled(mi, &x, &sw);
    Value* wq = mi->inputs[1];
    if (!mul || !wq || !wq->is_constant() || wq->constant.dtype() != DType::Int8 || wq->constant.rank() != 2)
      return false;
    if (x->has_shape && x->shape.size() < 2) return false;
    const int64_t K = wq->constant.dim(0), N = wq->constant.dim(1);
    if (sw->constant.numel() != 1 && sw->constant.numel() != N) return false;
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
