// Schema of Trilu.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_trilu(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << "Trilu: input must have rank >= 2, got " << shape_str(s);
  c.set_output(0, c.input_dtype(0), s);
}

}  // namespace

void register_trilu_ops(OpRegistry& reg) { reg.add(schema("Trilu", 1, 2, infer_trilu)); }
}  // namespace r1
