// Conv → BatchNormalization (inference form, constant statistics) folds into the Conv's weights:
//   k = gamma / sqrt(var + eps);  W' = W * k (per output channel);  B' = (B - mean) * k + beta
// The BatchNorm disappears at no cost in accuracy beyond fp32 rounding.
#include <cmath>

#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

bool f32_const(const Value* v, int64_t n) {
  return v && v->is_constant() && v->constant.dtype() == DType::Float32 && v->constant.numel() == n;
}

class ConvBnFolding : public Pass {
 public:
  const char* name() const override { return "conv_bn_folding"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    for (Node* bn : node_list(g)) {
      if (bn->op_type != "BatchNormalization" || !(bn->domain.empty() || bn->domain == "ai.onnx")) continue;
      if (bn->attrs.get_int("training_mode", 0) != 0) continue;
      bool extra_outputs = false;
      for (size_t i = 1; i < bn->outputs.size(); ++i) extra_outputs |= bn->outputs[i] != nullptr;
      if (extra_outputs) continue;
      Node* conv = producer(bn->inputs[0], "Conv");
      if (!conv || !only_reader(bn->inputs[0], bn)) continue;
      Value* w = conv->inputs[1];
      if (!w || !w->is_constant() || w->constant.dtype() != DType::Float32 || w->constant.rank() < 3) continue;
      int64_t co = w->constant.dim(0);
      if (!f32_const(bn->inputs[1], co) || !f32_const(bn->inputs[2], co) || !f32_const(bn->inputs[3], co) ||
          !f32_const(bn->inputs[4], co))
        continue;
      Value* b = conv->inputs.size() > 2 ? conv->inputs[2] : nullptr;
      if (b && !f32_const(b, co)) continue;
      float eps = bn->attrs.get_float("epsilon", 1e-5f);
      const float* gamma = bn->inputs[1]->constant.data<float>();
      const float* beta = bn->inputs[2]->constant.data<float>();
      const float* mean = bn->inputs[3]->constant.data<float>();
      const float* var = bn->inputs[4]->constant.data<float>();
      Tensor nw = Tensor::empty(DType::Float32, w->constant.shape());
      Tensor nb = Tensor::empty(DType::Float32, {co});
      int64_t per = w->constant.numel() / co;
      const float* ow = w->constant.data<float>();
      for (int64_t c = 0; c < co; ++c) {
        double k = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
        for (int64_t i = 0; i < per; ++i) nw.data<float>()[c * per + i] = static_cast<float>(ow[c * per + i] * k);
        double bias = b ? b->constant.data<float>()[c] : 0.0;
        nb.data<float>()[c] = static_cast<float>((bias - mean[c]) * k + beta[c]);
      }
      Node* f =
          add_op(g, "Conv", "",
                 {conv->inputs[0], add_const(g, conv->name + "_w_bn", nw), add_const(g, conv->name + "_b_bn", nb)},
                 conv->attrs, conv->name + "_bn");
      g.replace_all_uses(bn->outputs[0], f->outputs[0]);
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_conv_bn_folding() { return std::make_unique<ConvBnFolding>(); }
}  // namespace r1
