// precision="fp16" / "bf16" on a GPU: the whole graph computes in that type, the way
// onnxruntime's float16 converter (keep_io_types) or TensorRT's fp16 mode do. Every float32
// tensor inside the graph becomes the target type: weights and other constants are converted
// (fp16 saturates finite values to +-65504, so a mask of float32's lowest stays a large negative
// number instead of becoming -inf), Cast(to=float) nodes cast to the target instead, a float
// ConstantOfShape fills with the target type, float32 graph inputs are cast on entry, and float32
// graph outputs are cast back on exit, so callers keep the model's own dtypes.
// Kept float32: constants read only as Resize's roi / scales (ONNX requires float32 there).
// Runs last (after fusions, which match float32 patterns too) and only for devices other than the
// CPU, whose kernels compute fp32 or, with precision="bf16", bf16 products inside fused ops.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "r1/core/half.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {
using namespace passes;

constexpr int64_t kOnnxFloat = 1, kOnnxFloat16 = 10, kOnnxBFloat16 = 16;

Tensor convert(const Tensor& src, DType to) {
  Tensor dst = Tensor::empty(to, src.shape());
  const float* s = src.data<float>();
  uint16_t* d = static_cast<uint16_t*>(dst.raw());
  const int64_t n = src.numel();
  for (int64_t i = 0; i < n; ++i) {
    float f = s[i];
    if (to == DType::Float16) {
      if (std::isfinite(f)) f = std::fmax(-65504.0f, std::fmin(65504.0f, f));
      d[i] = float_to_half_bits(f);
    } else {
      d[i] = float_to_bf16_bits(f);
    }
  }
  return dst;
}

// Whether every reader of v reads it where ONNX demands float32.
bool float32_only(const Value* v) {
  if (v->consumers.empty()) return false;
  for (const Node* c : v->consumers) {
    if (!(c->op_type == "Resize" && (c->domain.empty() || c->domain == "ai.onnx"))) return false;
    for (size_t i = 0; i < c->inputs.size(); ++i)
      if (c->inputs[i] == v && i != 1 && i != 2) return false;
  }
  return true;
}

Node* add_cast(Graph& g, Value* x, int64_t onnx_to, const std::string& name) {
  AttributeMap a;
  a.set("to", Attribute::make_int(onnx_to));
  return add_op(g, "Cast", "", {x}, std::move(a), name);
}

// Makes `readers` (taken before a new node started reading `from`) read `to` instead.
void rewire(Graph& g, const std::vector<Node*>& readers, Value* from, Value* to) {
  for (Node* r : readers)
    for (size_t i = 0; i < r->inputs.size(); ++i)
      if (r->inputs[i] == from) g.set_input(r, i, to);
}

class FloatConversion : public Pass {
 public:
  const char* name() const override { return "float_conversion"; }
  bool run(Graph& g, const PassOptions& opts) override {
    if (opts.device == "cpu" || (opts.precision != "fp16" && opts.precision != "bf16")) return false;
    const DType to = opts.precision == "fp16" ? DType::Float16 : DType::BFloat16;
    const int64_t onnx_to = to == DType::Float16 ? kOnnxFloat16 : kOnnxBFloat16;
    bool changed = false;
    for (const auto& vp : g.values()) {
      Value* v = vp.get();
      if (!v->is_constant() || v->constant.dtype() != DType::Float32 || float32_only(v)) continue;
      v->constant = convert(v->constant, to);
      v->dtype = to;
      changed = true;
    }
    for (Node* n : node_list(g)) {
      if (!(n->domain.empty() || n->domain == "ai.onnx")) continue;
      // (A Cast that yields a graph output already gives callers their float32.)
      if (n->op_type == "Cast" && n->attrs.get_int("to", 0) == kOnnxFloat) {
        Value* o = n->outputs[0];
        if (!(o && o->is_graph_output)) {
          n->attrs.set("to", Attribute::make_int(onnx_to));
          changed = true;
        } else if (!o->consumers.empty() && n->inputs[0]) {
          // The exit cast is also read inside the graph: those readers get the target type (from a
          // cast of their own), not float32 next to converted values.
          Node* inner = add_cast(g, n->inputs[0], onnx_to, o->name + "_" + opts.precision);
          rewire(g, std::vector<Node*>(o->consumers), o, inner->outputs[0]);
          changed = true;
        }
      } else if (n->op_type == "ConstantOfShape") {
        const Tensor* t = n->attrs.get_tensor("value");
        if (t && t->dtype() == DType::Float32) {
          n->attrs.set("value", Attribute::make_tensor(convert(*t, to)));
          changed = true;
        }
      }
    }
    // Inputs: one Cast on entry, read by everything that read the input.
    for (Value* in : std::vector<Value*>(g.inputs())) {
      if (in->dtype != DType::Float32 || in->consumers.empty() || in->is_graph_output) continue;
      if (std::all_of(in->consumers.begin(), in->consumers.end(), [](const Node* c) { return c->op_type == "Cast"; }))
        continue;  // cast on entry already (a previous round, or the model's own)
      std::vector<Node*> readers = in->consumers;
      Node* cast = add_cast(g, in, onnx_to, in->name + "_" + opts.precision);
      rewire(g, readers, in, cast->outputs[0]);
      changed = true;
    }
    // Outputs: a Cast back to float32 takes the output's name and place; other readers keep the
    // converted value.
    for (Value* out : std::vector<Value*>(g.outputs())) {
      if (out->dtype != DType::Float32 || !out->producer || out->is_graph_input || out->is_constant()) continue;
      if (out->producer->op_type == "Cast") continue;  // cast on exit already
      Value* back = add_cast(g, out, kOnnxFloat, out->name + "_float")->outputs[0];
      g.replace_all_uses(out, back);  // `back` becomes the graph output; every reader now reads it
      rewire(g, std::vector<Node*>(back->consumers), back, out);  // incl. the Cast itself
      changed = true;
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_float_conversion() { return std::make_unique<FloatConversion>(); }
}  // namespace r1
