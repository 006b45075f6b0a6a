// Schema of r1::SkipLayerNorm (contract: cpp/r1/passes/README.md).
//   SkipLayerNorm(X, skip, gamma, beta?, bias?) -> (Y, sum?)   sum = X + skip (+ bias), Y = LN(sum)
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_skip_layernorm(InferContext& c) {
  static const char* kNames[] = {"X", "skip", "gamma", "beta", "bias"};
  for (size_t i = 0; i < c.num_inputs() && i < 5; ++i)
    if (c.has_input(i)) check_float(c, i, "SkipLayerNorm", kNames[i]);
  R1_CHECK(c.input_dtype(1) == c.input_dtype(0), ModelError)
      << "SkipLayerNorm: X and skip must share a dtype (got " << dtype_name(c.input_dtype(0)) << " and "
      << dtype_name(c.input_dtype(1)) << ")";
  const Shape& x = c.input_shape(0);
  R1_CHECK(!x.empty(), InputError) << "SkipLayerNorm: X must be at least 1-D";
  // skip broadcasts to X (never enlarges it): X's shape is the output shape.
  const Shape& sk = c.input_shape(1);
  Shape b = broadcast_shapes(x, sk);
  R1_CHECK(b.size() == x.size(), InputError)
      << "SkipLayerNorm: skip of shape " << shape_str(sk) << " does not broadcast to X " << shape_str(x);
  for (size_t i = 0; i < x.size(); ++i)
    R1_CHECK(!is_known(b[i]) || !is_known(x[i]) || b[i] == x[i], InputError)
        << "SkipLayerNorm: skip of shape " << shape_str(sk) << " does not broadcast to X " << shape_str(x);
  const int64_t hidden = x.back();
  for (size_t i = 2; i < c.num_inputs() && i < 5; ++i) {
    if (!c.has_input(i)) continue;
    const Shape& p = c.input_shape(i);
    R1_CHECK(p.size() == 1, InputError) << "SkipLayerNorm: " << kNames[i] << " must be 1-D [hidden], got shape "
                                        << shape_str(p);
    R1_CHECK(!is_known(p[0]) || !is_known(hidden) || p[0] == hidden, InputError)
        << "SkipLayerNorm: " << kNames[i] << " has " << p[0] << " elements, the hidden size is " << hidden;
  }
  c.set_output(0, c.input_dtype(0), x);
  if (c.has_output(1)) c.set_output(1, c.input_dtype(0), x);
}

}  // namespace

void register_skip_layernorm_ops(OpRegistry& reg) {
  OpSchema sln = schema("SkipLayerNorm", 3, 5, infer_skip_layernorm, 1, 2);
  sln.domain = "r1";
  reg.add(std::move(sln));
}
}  // namespace r1
