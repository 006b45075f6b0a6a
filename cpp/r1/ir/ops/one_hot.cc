// Schema of OneHot.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_one_hot(InferContext& c) {
  const Shape& idx = c.input_shape(0);
  DType vt = c.input_dtype(2);
  int r = static_cast<int>(idx.size()) + 1;
  int ax = normalize_axis(c.attrs().get_int("axis", -1), r, "OneHot axis");
  int64_t depth = kUnknownDim;
  if (const Tensor* d = c.input_value(1)) {
    R1_CHECK(d->numel() == 1, InputError) << "OneHot: depth must be a scalar";
    depth = static_cast<int64_t>(d->scalar_as_double(0));
    R1_CHECK(depth > 0, InputError) << "OneHot: depth must be positive, got " << depth;
  }
  Shape out(idx.begin(), idx.end());
  out.insert(out.begin() + ax, depth);
  c.set_output(0, vt, out);
}

}  // namespace

void register_one_hot_ops(OpRegistry& reg) { reg.add(schema("OneHot", 3, 3, infer_one_hot)); }
}  // namespace r1
