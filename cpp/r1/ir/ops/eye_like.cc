// Schema of EyeLike.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_eye_like(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 2, InputError) << "EyeLike: input must be 2-D, got " << shape_str(s);
  DType t = c.input_dtype(0);
  if (c.attrs().has("dtype")) {
    int64_t code = c.attrs().get_int("dtype", 1);
    R1_CHECK(dtype_is_valid_code(static_cast<int>(code)), ModelError)
        << "EyeLike: dtype " << code << " is not supported";
    t = static_cast<DType>(code);
  }
  c.set_output(0, t, s);
}

}  // namespace

void register_eye_like_ops(OpRegistry& reg) { reg.add(schema("EyeLike", 1, 1, infer_eye_like)); }
}  // namespace r1
