// Schemas of the shape queries Shape and Size.
#include <algorithm>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void shape_range(InferContext& c, int r, int64_t* start, int64_t* end) {
  *start = 0;
  *end = r;
  if (c.opset() >= 15) {
    *start = c.attrs().get_int("start", 0);
    *end = c.attrs().get_int("end", r);
  }
  auto fix = [r](int64_t v) {
    if (v < 0) v += r;
    return std::clamp<int64_t>(v, 0, r);
  };
  *start = fix(*start);
  *end = fix(*end);
}

void infer_shape(InferContext& c) {
  int r = c.input_rank(0);
  int64_t s, e;
  shape_range(c, r, &s, &e);
  c.set_output(0, DType::Int64, {std::max<int64_t>(0, e - s)});
}

void infer_size(InferContext& c) {
  (void)c.input_dtype(0);
  c.set_output(0, DType::Int64, {});
}

}  // namespace

void register_shape_size_ops(OpRegistry& reg) {
  reg.add(schema("Shape", 1, 1, infer_shape));
  reg.add(schema("Size", 1, 1, infer_size));
}
}  // namespace r1
