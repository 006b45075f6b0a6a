// Schema of NonZero (its output size depends on the data).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_nonzero(InferContext& c) {
  int r = c.input_rank(0);
  if (c.input_value(0))
    c.set_output_dtype(0, DType::Int64);  // run time: the kernel sizes it
  else
    c.set_output(0, DType::Int64, {r, kUnknownDim});
}

}  // namespace

void register_nonzero_ops(OpRegistry& reg) { reg.add(schema("NonZero", 1, 1, infer_nonzero)); }
}  // namespace r1
