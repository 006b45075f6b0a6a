// Schemas of Cast, CastLike and BitCast.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_cast(InferContext& c) {
  R1_CHECK(c.attrs().has("to"), ModelError) << "Cast needs the attribute 'to'";
  int64_t to = c.attrs().get_int("to", 0);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(to)), ModelError)
      << "Cast to ONNX element type " << to << " is not supported (supported: " << kSupportedDtypes << ")";
  c.set_output(0, static_cast<DType>(to), c.input_shape(0));
}

void infer_castlike(InferContext& c) { c.set_output(0, c.input_dtype(1), c.input_shape(0)); }

// BitCast reinterprets the bits: the target type must have the input's width.
void infer_bitcast(InferContext& c) {
  int64_t to = c.attrs().get_int("to", 0);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(to)), ModelError)
      << "BitCast to ONNX element type " << to << " is not supported";
  DType t = static_cast<DType>(to), from = c.input_dtype(0);
  R1_CHECK(dtype_size(t) == dtype_size(from) && t != DType::Bool && from != DType::Bool, ModelError)
      << "BitCast from " << dtype_name(from) << " to " << dtype_name(t)
      << " is not supported (the types must have the same width, bool excluded)";
  c.set_output(0, t, c.input_shape(0));
}

}  // namespace

void register_cast_ops(OpRegistry& reg) {
  reg.add(schema("Cast", 1, 1, infer_cast));
  reg.add(schema("CastLike", 2, 2, infer_castlike));
  reg.add(with_opsets(schema("BitCast", 1, 1, infer_bitcast), 26));
}
}  // namespace r1
