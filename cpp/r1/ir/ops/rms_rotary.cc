// Schemas of the decoder building blocks of opset 23: RMSNormalization and RotaryEmbedding.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_rms_norm(InferContext& c) {
  check_float(c, 0, "RMSNormalization", "X");
  check_float(c, 1, "RMSNormalization", "scale");
  int r = c.input_rank(0);
  normalize_axis(c.attrs().get_int("axis", -1), r, "RMSNormalization axis");
  infer_like_input0(c);
}

// X [B, S, hidden] or [B, heads, S, head]; cos/sin [B, S, rot/2], or [positions, rot/2] with position_ids [B, S].
void infer_rotary(InferContext& c) {
  check_float(c, 0, "RotaryEmbedding", "X");
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() == 3 || x.size() == 4, InputError)
      << "RotaryEmbedding: X must be [batch, seq, hidden] or [batch, heads, seq, head], got " << shape_str(x);
  if (x.size() == 3)
    R1_CHECK(c.attrs().get_int("num_heads", 0) > 0, ModelError)
        << "RotaryEmbedding: a 3-D input needs the num_heads attribute";
  R1_CHECK(c.input_dtype(1) == c.input_dtype(0) && c.input_dtype(2) == c.input_dtype(0), ModelError)
      << "RotaryEmbedding: cos_cache and sin_cache must have X's dtype";
  infer_like_input0(c);
}

}  // namespace

void register_rms_rotary_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("RMSNormalization", 2, 2, infer_rms_norm), 23));
  reg.add(with_opsets(schema("RotaryEmbedding", 3, 4, infer_rotary), 23));
}
}  // namespace r1
