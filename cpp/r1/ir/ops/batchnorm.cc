// Schema of BatchNormalization: inference form, and from opset 14 training_mode=1 (batch statistics,
// with the updated running mean and variance as outputs 1 and 2).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_batchnorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  bool training = ctx.opset() >= 14 && ctx.attrs().get_int("training_mode", 0) != 0;
  if (ctx.opset() < 9)
    R1_CHECK(ctx.attrs().get_int("spatial", 1) == 1, ModelError) << "BatchNormalization spatial=0 is not supported";
  for (size_t i = training ? 3 : 1; i < ctx.num_outputs(); ++i)
    R1_CHECK(!ctx.has_output(i), ModelError)
        << "BatchNormalization output " << i << " is not supported"
        << (training ? "" : " (the running mean / variance outputs need training_mode=1, opset 14+)");
  const Shape& s = ctx.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << "BatchNormalization needs an input of rank >= 2, got rank " << s.size();
  for (size_t i = 1; i < 5; ++i) check_float(ctx, i, "BatchNormalization parameter");
  ctx.set_output(0, ctx.input_dtype(0), s);
  if (training) {
    ctx.set_output(1, ctx.input_dtype(3), {s[1]});
    ctx.set_output(2, ctx.input_dtype(4), {s[1]});
  }
}

}  // namespace

void register_batchnorm_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("BatchNormalization", 5, 5, infer_batchnorm, 1, 5), 7));
}
}  // namespace r1
