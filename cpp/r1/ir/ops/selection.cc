// Schemas of the ops whose output keeps a data-dependent subset of the input: Compress and Unique.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// Without axis the input is flattened: 1-D output; with axis, that dim shrinks.
void infer_compress(InferContext& c) {
  R1_CHECK(c.input_dtype(1) == DType::Bool, ModelError)
      << "Compress: condition must be bool, got " << dtype_name(c.input_dtype(1));
  DType t = c.input_dtype(0);
  if (!c.attrs().has("axis")) {
    c.set_output(0, t, {kUnknownDim});
    return;
  }
  Shape s = c.input_shape(0);
  int axis = normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(s.size()), "Compress axis");
  s[axis] = kUnknownDim;
  c.set_output(0, t, s);
}

// Y (the unique values or slices), indices (first occurrence), inverse_indices, counts.
void infer_unique(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "Unique of dtype bool is not supported";
  const Shape& s = c.input_shape(0);
  if (c.attrs().has("axis")) {
    Shape y = s;
    int axis = normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(s.size()), "Unique axis");
    y[axis] = kUnknownDim;
    c.set_output(0, t, y);
    c.set_output(2, DType::Int64, {s[axis]});
  } else {
    c.set_output(0, t, {kUnknownDim});
    int64_t n = 1;
    for (int64_t d : s) n = is_known(d) && is_known(n) ? n * d : kUnknownDim;
    c.set_output(2, DType::Int64, {n});
  }
  c.set_output(1, DType::Int64, {kUnknownDim});
  c.set_output(3, DType::Int64, {kUnknownDim});
}

}  // namespace

void register_selection_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("Compress", 2, 2, infer_compress), 9));
  reg.add(with_opsets(schema("Unique", 1, 1, infer_unique, 1, 4), 11));
}
}  // namespace r1
