// Small building blocks for shape/type inference functions.
#pragma once
#include <algorithm>

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

// Schemas whose ops exist only from (or up to) an opset.
inline OpSchema with_opsets(OpSchema s, int since, int max = 1000) {
  s.since_opset = since;
  s.max_opset = max;
  return s;
}

// Float input checks with the wording of each family's messages.
// "<op> of <dtype> is not supported" (conv_util.h geometry ops: Conv, ConvTranspose, pools).
inline void check_float(DType t, const char* op) {
  R1_CHECK(is_float(t), ModelError) << op << " of " << dtype_name(t) << " is not supported";
}
// "<what> of dtype <dtype> is not supported (needs ...)" (Softmax, the normalizations).
inline void check_float(const InferContext& ctx, size_t i, const char* what) {
  DType t = ctx.input_dtype(i);
  R1_CHECK(is_float(t), ModelError) << what << " of dtype " << dtype_name(t)
                                    << " is not supported (needs float32, float16 or bfloat16)";
}
// "<op>: <what> of dtype <dtype> is not supported (needs ...)" (the r1-domain ops).
inline void check_float(const InferContext& c, size_t i, const char* op, const char* what) {
  DType t = c.input_dtype(i);
  R1_CHECK(is_float(t), ModelError) << op << ": " << what << " of dtype " << dtype_name(t)
                                    << " is not supported (needs float32, float16 or bfloat16)";
}

// The spatial dims of an [N, C, spatial...] shape.
inline Shape spatial(const Shape& x) { return Shape(x.begin() + 2, x.end()); }

// Inference runs at compile time (symbolic dims, only constant inputs have values) and at run
// time (everything known). Data-dependent outputs fall back to a known rank with unknown dims,
// or to dtype only when even the rank depends on data: static_len and set_unknown_rank.

// The static length of a 1-D input (e.g. a shape tensor), or -1.
inline int64_t static_len(InferContext& c, size_t i) {
  if (!c.input_has_shape(i)) return -1;
  const Shape& s = c.input_shape(i);
  if (s.size() == 0) return 1;
  if (s.size() != 1 || !is_known(s[0])) return -1;
  return s[0];
}

// Output `out` of dtype t with `rank` unknown dims, or with its dtype only when the rank is unknown (< 0).
inline void set_unknown_rank(InferContext& c, size_t out, DType t, int64_t rank) {
  if (rank < 0)
    c.set_output_dtype(out, t);
  else
    c.set_output(out, t, Shape(rank, kUnknownDim));
}

// Softmax, LogSoftmax and Hardmax: the output is the input's shape; axis checked as the opset reads it.
inline void infer_softmax(InferContext& ctx, bool takes_float64 = false) {
  if (!(takes_float64 && ctx.input_dtype(0) == DType::Float64)) check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int64_t def = ctx.opset() >= 13 ? -1 : 1;
  int64_t axis = ctx.attrs().get_int("axis", def);
  if (ctx.opset() >= 13) {
    normalize_axis(axis, std::max(rank, 1), "axis");
  } else {
    R1_CHECK(axis >= -rank && axis <= std::max(rank, 1), InputError)
        << "axis " << axis << " out of range for rank " << rank;
  }
  ctx.set_output(0, ctx.input_dtype(0), s);
}

}  // namespace r1
