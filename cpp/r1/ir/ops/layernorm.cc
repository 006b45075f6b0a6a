// Schema of LayerNormalization (opset 17).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_layernorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  ctx.set_output(0, ctx.input_dtype(0), s);
  Shape st(s.begin(), s.begin() + axis);
  st.resize(rank, 1);
  if (ctx.has_output(1)) ctx.set_output(1, DType::Float32, st);
  if (ctx.has_output(2)) ctx.set_output(2, DType::Float32, st);
}

}  // namespace

void register_layernorm_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("LayerNormalization", 2, 3, infer_layernorm, 1, 3), 17));
}
}  // namespace r1
