// Dtype checks and inference functions shared by the elementwise families' schemas
// (elementwise_unary, activation, gelu, elementwise_binary, logic).
#pragma once
#include <string>

#include "r1/ir/ops/infer_util.h"

namespace r1 {

// Float: the three float types of the float kernels; FloatOrDouble: those and float64 (ops computed in
// the type itself, see ir/ops/wide_types.cc).
enum class Kinds { Float, FloatOrDouble, Numeric, Signed, Bool, Any };

inline void check_dtype(const InferContext& ctx, size_t i, Kinds k) {
  DType t = ctx.input_dtype(i);
  const std::string& op = ctx.node().op_type;
  switch (k) {
    case Kinds::Float:
      R1_CHECK(is_float(t), ModelError) << op << " of dtype " << dtype_name(t)
                                        << " is not supported (needs float32, float16 or bfloat16)";
      break;
    case Kinds::FloatOrDouble:
      R1_CHECK(is_float(t) || t == DType::Float64, ModelError)
          << op << " of dtype " << dtype_name(t) << " is not supported (needs float32, float16, bfloat16 or float64)";
      break;
    case Kinds::Numeric:
      R1_CHECK(t != DType::Bool, ModelError) << op << " of dtype bool is not supported (needs a numeric dtype)";
      break;
    case Kinds::Signed:
      R1_CHECK(t != DType::Bool && t != DType::UInt8 && t != DType::UInt16 && t != DType::UInt32 && t != DType::UInt64,
               ModelError)
          << op << " of dtype " << dtype_name(t) << " is not supported (needs a signed numeric dtype)";
      break;
    case Kinds::Bool:
      R1_CHECK(t == DType::Bool, ModelError) << op << " of dtype " << dtype_name(t) << " is not supported (needs bool)";
      break;
    case Kinds::Any:
      break;
  }
}

inline InferFn unary(Kinds k) {
  return [k](InferContext& c) {
    check_dtype(c, 0, k);
    infer_like_input0(c);
  };
}

// Every present input has kind k and the same dtype; output is their broadcast, with dtype `out`
// (Undefined: input 0's).
inline InferFn broadcast(Kinds k, DType out = DType::Undefined) {
  return [k, out](InferContext& c) {
    for (size_t i = 0; i < c.num_inputs(); ++i)
      if (c.has_input(i)) check_dtype(c, i, k);
    infer_broadcast(c, out);
  };
}

}  // namespace r1
