// Schemas of InstanceNormalization, GroupNormalization, LpNormalization and
// MeanVarianceNormalization (LayerNormalization and BatchNormalization have files of their own).
#include <vector>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_norm_nc(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << ctx.node().op_type << " needs an input of rank >= 2, got rank " << s.size();
  for (size_t i = 1; i < 3; ++i) check_float(ctx, i, "scale/bias");
  if (ctx.node().op_type == "GroupNormalization") {
    int64_t g = ctx.attrs().get_int("num_groups", 0);
    R1_CHECK(g > 0, ModelError) << "GroupNormalization needs a positive num_groups attribute";
    if (is_known(s[1]))
      R1_CHECK(s[1] % g == 0, InputError) << "channels " << s[1] << " not divisible by num_groups " << g;
  }
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_lpnorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  int64_t p = ctx.attrs().get_int("p", 2);
  R1_CHECK(p == 1 || p == 2, ModelError) << "LpNormalization p=" << p << " is not supported (1 or 2)";
  const Shape& s = ctx.input_shape(0);
  normalize_axis(ctx.attrs().get_int("axis", -1), std::max<int>(1, s.size()), "axis");
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_mvn(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  std::vector<int64_t> axes = ctx.attrs().get_ints("axes", {0, 2, 3});
  for (int64_t a : axes) normalize_axis(a, static_cast<int>(s.size()), "axes");
  ctx.set_output(0, ctx.input_dtype(0), s);
}

}  // namespace

void register_normalization_ops(OpRegistry& reg) {
  reg.add(schema("InstanceNormalization", 3, 3, infer_norm_nc));
  reg.add(with_opsets(schema("GroupNormalization", 3, 3, infer_norm_nc), 18));
  reg.add(schema("LpNormalization", 1, 1, infer_lpnorm));
  reg.add(schema("MeanVarianceNormalization", 1, 1, infer_mvn));
}
}  // namespace r1
