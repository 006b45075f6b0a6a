// Schema of the ONNX Attention op (opset 23-25): Q, K, V in 3-D [B, S, heads * head] or 4-D
// [B, heads, S, head] layout, grouped-query heads, a bool or additive mask, causal and sliding-window
// masking, a KV cache (past_key / past_value -> present_key / present_value), nonpad_kv_seqlen,
// softcap and the optional qk_matmul_output. (Our fused r1::Attention is attention.cc.)
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

int64_t div_dim(int64_t a, int64_t heads, const char* what) {
  if (!is_known(a)) return kUnknownDim;
  R1_CHECK(heads > 0 && a % heads == 0, InputError)
      << "Attention: " << what << " hidden size " << a << " is not a multiple of " << heads << " heads";
  return a / heads;
}

int64_t add_dims(int64_t a, int64_t b) { return is_known(a) && is_known(b) ? a + b : kUnknownDim; }

void infer_onnx_attention(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) check_float(c, i, "Attention", i == 0 ? "Q" : i == 1 ? "K" : "V");
  DType t = c.input_dtype(0);
  R1_CHECK(c.input_dtype(1) == t && c.input_dtype(2) == t, ModelError) << "Attention: Q, K and V must share a dtype";
  const Shape& q = c.input_shape(0);
  const Shape& k = c.input_shape(1);
  const Shape& v = c.input_shape(2);
  R1_CHECK((q.size() == 3 || q.size() == 4) && k.size() == q.size() && v.size() == q.size(), InputError)
      << "Attention: Q, K and V must all be 3-D or all 4-D, got " << shape_str(q) << ", " << shape_str(k) << ", "
      << shape_str(v);
  if (c.has_input(3)) {
    DType m = c.input_dtype(3);
    R1_CHECK(m == DType::Bool || m == t, ModelError)
        << "Attention: attn_mask must be bool or " << dtype_name(t) << ", got " << dtype_name(m);
  }
  R1_CHECK(c.has_input(4) == c.has_input(5), ModelError) << "Attention: past_key and past_value come together";
  R1_CHECK(!(c.has_input(6) && c.has_input(4)), ModelError)
      << "Attention: nonpad_kv_seqlen cannot be combined with past_key / past_value";
  int64_t mode = c.attrs().get_int("qk_matmul_output_mode", 0);
  R1_CHECK(mode >= 0 && mode <= 3, ModelError) << "Attention: qk_matmul_output_mode must be 0 to 3, got " << mode;
  for (const char* w : {"left_window_size", "right_window_size"})
    R1_CHECK(c.attrs().get_int(w, -1) >= -1, ModelError) << "Attention: " << w << " must be -1 or >= 0";
  int64_t B = q[0], Hq, Sq, Dqk, Hkv, Skv, Dv;
  if (q.size() == 4) {
    Hq = q[1], Sq = q[2], Dqk = q[3], Hkv = k[1], Skv = k[2], Dv = v[3];
  } else {
    Hq = c.attrs().get_int("q_num_heads", 0);
    Hkv = c.attrs().get_int("kv_num_heads", 0);
    R1_CHECK(Hq > 0 && Hkv > 0, ModelError) << "Attention: 3-D inputs need q_num_heads and kv_num_heads";
    Sq = q[1], Skv = k[1];
    Dqk = div_dim(q[2], Hq, "Q");
    Dv = div_dim(v[2], Hkv, "V");
  }
  if (is_known(Hq) && is_known(Hkv))
    R1_CHECK(Hkv > 0 && Hq % Hkv == 0, InputError)
        << "Attention: " << Hq << " query heads are not a multiple of " << Hkv << " key/value heads";
  int64_t total = Skv;
  if (c.has_input(4)) total = add_dims(c.input_shape(4).size() == 4 ? c.input_shape(4)[2] : kUnknownDim, Skv);
  c.set_output(0, t, q.size() == 4 ? Shape{B, Hq, Sq, Dv} : Shape{B, Sq, is_known(Dv) ? Hq * Dv : kUnknownDim});
  c.set_output(1, t, {B, Hkv, total, Dqk});
  c.set_output(2, t, {B, Hkv, total, Dv});
  c.set_output(3, t, {B, Hq, Sq, total});
}

}  // namespace

void register_onnx_attention_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("Attention", 3, 7, infer_onnx_attention, 1, 4), 23));
}
}  // namespace r1
