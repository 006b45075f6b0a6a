// Small building blocks for shape/type inference functions.
#pragma once
#include "r1/ir/op_registry.h"

namespace r1 {

// Output 0 gets input 0's dtype and shape (unary elementwise ops, activations).
inline void infer_like_input0(InferContext& ctx) { ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0)); }

// Output 0 is the numpy broadcast of every present input; dtype is out_dtype, or input 0's
// when Undefined. Inputs must share a dtype unless check_same_dtype is false.
inline void infer_broadcast(InferContext& ctx, DType out_dtype = DType::Undefined, bool check_same_dtype = true,
                            size_t first_input = 0) {
  Shape s = ctx.input_shape(first_input);
  DType t = ctx.input_dtype(first_input);
  for (size_t i = first_input + 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    if (check_same_dtype)
      R1_CHECK(ctx.input_dtype(i) == t, ModelError)
          << "inputs have different dtypes: " << dtype_name(t) << " and " << dtype_name(ctx.input_dtype(i));
    s = broadcast_shapes(s, ctx.input_shape(i));
  }
  ctx.set_output(0, out_dtype == DType::Undefined ? t : out_dtype, s);
}

inline OpSchema schema(const char* op, int min_in, int max_in, InferFn fn, int min_out = 1, int max_out = 1) {
  OpSchema s;
  s.op_type = op;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.min_outputs = min_out;
  s.max_outputs = max_out;
  s.infer = std::move(fn);
  return s;
}

// Marks a schema as heavy (OpSchema::heavy): its kernel is worth an inter-op slot of its own.
inline OpSchema heavy(OpSchema s) {
  s.heavy = true;
  return s;
}

}  // namespace r1
