// Schema of ConstantOfShape.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

DType constant_of_shape_dtype(InferContext& c) {
  const Tensor* v = c.attrs().get_tensor("value");
  if (!v) return DType::Float32;
  R1_CHECK(v->numel() == 1, ModelError) << "ConstantOfShape: value must hold one element";
  return v->dtype();
}

void infer_constant_of_shape(InferContext& c) {
  DType t = constant_of_shape_dtype(c);
  std::vector<int64_t> spec;
  if (!c.input_ints(0, &spec)) {
    set_unknown_rank(c, 0, t, static_len(c, 0));
    return;
  }
  for (int64_t v : spec) R1_CHECK(v >= 0, InputError) << "ConstantOfShape: negative dim " << v;
  c.set_output(0, t, spec);
}

}  // namespace

void register_constant_of_shape_ops(OpRegistry& reg) {
  reg.add(schema("ConstantOfShape", 1, 1, infer_constant_of_shape));
}
}  // namespace r1
