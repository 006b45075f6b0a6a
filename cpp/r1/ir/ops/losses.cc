// Schemas of the training losses onnxruntime runs for inference too: NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss.
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// scores [N, C, d...], target [N, d...] -> loss [N, d...] (reduction none) or a scalar.
void infer_loss(InferContext& c) {
  const std::string& op = c.node().op_type;
  check_float(c, 0, op.c_str(), "scores");
  DType tt = c.input_dtype(1);
  R1_CHECK(tt == DType::Int64 || tt == DType::Int32, ModelError)
      << op << ": target must be int32 or int64, got " << dtype_name(tt);
  if (c.has_input(2)) check_float(c, 2, op.c_str(), "weight");
  const Shape& x = c.input_shape(0);
  const Shape& t = c.input_shape(1);
  R1_CHECK(x.size() >= 2 && t.size() == x.size() - 1, InputError)
      << op << ": scores must be [N, C, d...] and target [N, d...], got " << shape_str(x) << " and " << shape_str(t);
  std::string red = c.attrs().get_string("reduction", "mean");
  R1_CHECK(red == "none" || red == "sum" || red == "mean", ModelError)
      << op << ": reduction must be none, sum or mean, got '" << red << "'";
  c.set_output(0, c.input_dtype(0), red == "none" ? t : Shape{});
  if (c.num_outputs() > 1) c.set_output(1, c.input_dtype(0), x);  // SoftmaxCrossEntropyLoss's log_prob
}

}  // namespace

void register_losses_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("NegativeLogLikelihoodLoss", 2, 3, infer_loss), 12));
  reg.add(with_opsets(schema("SoftmaxCrossEntropyLoss", 2, 3, infer_loss, 1, 2), 12));
}
}  // namespace r1
