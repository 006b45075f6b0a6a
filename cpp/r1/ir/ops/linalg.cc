// Schema of Det (determinants of the trailing square matrices).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_det(InferContext& c) {
  check_float(c, 0, "Det", "input");
  const Shape& s = c.input_shape(0);
  int r = static_cast<int>(s.size());
  R1_CHECK(r >= 2, InputError) << "Det: input must be [..., M, M], got " << shape_str(s);
  R1_CHECK(!is_known(s[r - 1]) || !is_known(s[r - 2]) || s[r - 1] == s[r - 2], InputError)
      << "Det: matrices must be square, got " << shape_str(s);
  c.set_output(0, c.input_dtype(0), Shape(s.begin(), s.end() - 2));
}

}  // namespace

void register_linalg_ops(OpRegistry& reg) { reg.add(with_opsets(schema("Det", 1, 1, infer_det), 11)); }
}  // namespace r1
