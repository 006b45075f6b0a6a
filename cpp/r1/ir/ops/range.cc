// Schema of Range.
#include <algorithm>
#include <cmath>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_range(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "Range: bool is not supported";
  for (size_t i = 1; i < 3; ++i)
    R1_CHECK(c.input_dtype(i) == t, ModelError) << "Range: start, limit and delta must share a dtype";
  const Tensor *a = c.input_value(0), *b = c.input_value(1), *d = c.input_value(2);
  if (!a || !b || !d) {
    c.set_output(0, t, {kUnknownDim});
    return;
  }
  int64_t n;
  if (is_integer(t)) {
    int64_t s = a->to_int64_vector()[0], l = b->to_int64_vector()[0], dl = d->to_int64_vector()[0];
    R1_CHECK(dl != 0, InputError) << "Range: delta must not be 0";
    int64_t diff = l - s;
    // ceil(diff / dl) for any signs
    int64_t q = diff / dl, rem = diff % dl;
    if (rem != 0 && ((rem > 0) == (dl > 0))) ++q;
    n = std::max<int64_t>(q, 0);
  } else {
    double s = a->scalar_as_double(0), l = b->scalar_as_double(0), dl = d->scalar_as_double(0);
    R1_CHECK(dl != 0, InputError) << "Range: delta must not be 0";
    n = std::max<int64_t>(static_cast<int64_t>(std::ceil((l - s) / dl)), 0);
  }
  c.set_output(0, t, {n});
}

}  // namespace

void register_range_ops(OpRegistry& reg) { reg.add(schema("Range", 3, 3, infer_range)); }
}  // namespace r1
