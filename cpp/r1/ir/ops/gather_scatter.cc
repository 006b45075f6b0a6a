// Schemas of the index ops: Gather, GatherElements, GatherND, ScatterND, ScatterElements and the
// deprecated Scatter.
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_gather(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  DType it = c.input_dtype(1);
  R1_CHECK(it == DType::Int32 || it == DType::Int64, ModelError) << "Gather: indices must be int32 or int64";
  int r = static_cast<int>(d.size());
  int ax = normalize_axis(c.attrs().get_int("axis", 0), r, "Gather axis");
  Shape out(d.begin(), d.begin() + ax);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), d.begin() + ax + 1, d.end());
  c.set_output(0, c.input_dtype(0), out);
}

void infer_gather_elements(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  R1_CHECK(d.size() == idx.size(), InputError)
      << "GatherElements: data " << shape_str(d) << " and indices " << shape_str(idx) << " have different ranks";
  normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(d.size()), "GatherElements axis");
  c.set_output(0, c.input_dtype(0), idx);
}

void infer_gather_nd(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  int64_t b = c.opset() >= 12 ? c.attrs().get_int("batch_dims", 0) : 0;
  R1_CHECK(!idx.empty(), InputError) << "GatherND: indices must have rank >= 1";
  int64_t k = idx.back();
  R1_CHECK(b >= 0 && b < static_cast<int64_t>(idx.size()) && b < static_cast<int64_t>(d.size()), ModelError)
      << "GatherND: invalid batch_dims " << b;
  Shape out(idx.begin(), idx.end() - 1);
  if (!is_known(k)) {
    c.set_output_dtype(0, c.input_dtype(0));
    return;
  }
  R1_CHECK(b + k <= static_cast<int64_t>(d.size()), InputError)
      << "GatherND: index tuples of length " << k << " exceed data rank " << d.size();
  out.insert(out.end(), d.begin() + b + k, d.end());
  c.set_output(0, c.input_dtype(0), out);
}

void check_reduction(InferContext& c, const char* op) {
  std::string red = c.attrs().get_string("reduction", "none");
  R1_CHECK(red == "none" || red == "add" || red == "mul" || red == "max" || red == "min", ModelError)
      << op << ": reduction '" << red << "' is not supported";
}

void infer_scatter_nd(InferContext& c) {
  check_reduction(c, "ScatterND");
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_scatter_elements(InferContext& c) {
  check_reduction(c, "ScatterElements");
  const Shape& d = c.input_shape(0);
  normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(d.size()), "ScatterElements axis");
  c.set_output(0, c.input_dtype(0), d);
}

}  // namespace

void register_gather_scatter_ops(OpRegistry& reg) {
  reg.add(schema("Gather", 2, 2, infer_gather));
  reg.add(schema("GatherElements", 2, 2, infer_gather_elements));
  reg.add(schema("GatherND", 2, 2, infer_gather_nd));
  reg.add(schema("ScatterND", 3, 3, infer_scatter_nd));
  reg.add(schema("ScatterElements", 3, 3, infer_scatter_elements));
  reg.add(schema("Scatter", 3, 3, infer_scatter_elements));
}
}  // namespace r1
