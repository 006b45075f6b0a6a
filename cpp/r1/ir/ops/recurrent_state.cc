// Schemas of the stateful sequence ops of opset 27: LinearAttention (linear / gated / delta /
// gated_delta state updates, grouped-query heads) and CausalConvWithState (a depthwise causal 1-D
// convolution that carries its last k - 1 inputs as state).
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

int64_t per_head(int64_t v, int64_t heads, const char* what) {
  if (!is_known(v)) return kUnknownDim;
  R1_CHECK(heads > 0 && v % heads == 0, InputError)
      << "LinearAttention: " << what << " last dim " << v << " is not a multiple of " << heads << " heads";
  return v / heads;
}

void infer_linear_attention(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) check_float(c, i, "LinearAttention", i == 0 ? "query" : i == 1 ? "key" : "value");
  std::string rule = c.attrs().get_string("update_rule", "gated_delta");
  R1_CHECK(rule == "linear" || rule == "gated" || rule == "delta" || rule == "gated_delta", ModelError)
      << "LinearAttention: update_rule '" << rule << "' is not one of linear, gated, delta, gated_delta";
  bool gating = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta";
  R1_CHECK(c.has_input(4) == gating, ModelError)
      << "LinearAttention: update_rule '" << rule << "' " << (gating ? "needs" : "forbids") << " the decay input";
  R1_CHECK(c.has_input(5) == delta, ModelError)
      << "LinearAttention: update_rule '" << rule << "' " << (delta ? "needs" : "forbids") << " the beta input";
  int64_t hq = c.attrs().get_int("q_num_heads", 0), hkv = c.attrs().get_int("kv_num_heads", 0);
  R1_CHECK(hq > 0 && hkv > 0 && hq % hkv == 0, ModelError)
      << "LinearAttention: q_num_heads (" << hq << ") must be a positive multiple of kv_num_heads (" << hkv << ")";
  const Shape& q = c.input_shape(0);
  const Shape& v = c.input_shape(2);
  R1_CHECK(q.size() == 3 && c.input_rank(1) == 3 && v.size() == 3, InputError)
      << "LinearAttention: query, key and value must be [batch, time, heads * head_size]";
  int64_t dk = per_head(q[2], hq, "query"), dv = per_head(v[2], hkv, "value");
  c.set_output(0, c.input_dtype(0), {q[0], q[1], is_known(dv) ? hq * dv : kUnknownDim});
  c.set_output(1, c.has_input(3) ? c.input_dtype(3) : c.input_dtype(0), {q[0], hkv, dk, dv});
}

void infer_causal_conv(InferContext& c) {
  check_float(c, 0, "CausalConvWithState", "input");
  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  R1_CHECK(x.size() == 3 && w.size() == 3, InputError)
      << "CausalConvWithState: input must be [batch, channels, length] and weight [channels, 1, k], got "
      << shape_str(x) << " and " << shape_str(w);
  std::string act = c.attrs().get_string("activation", "none");
  R1_CHECK(act == "none" || act == "silu" || act == "swish", ModelError)
      << "CausalConvWithState: activation '" << act << "' is not one of none, silu, swish";
  c.set_output(0, c.input_dtype(0), x);
  c.set_output(1, c.input_dtype(0), {x[0], x[1], is_known(w[2]) ? w[2] - 1 : kUnknownDim});
}

}  // namespace

void register_recurrent_state_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("LinearAttention", 3, 6, infer_linear_attention, 1, 2), 27));
  reg.add(with_opsets(schema("CausalConvWithState", 2, 4, infer_causal_conv, 1, 2), 27));
}
}  // namespace r1
