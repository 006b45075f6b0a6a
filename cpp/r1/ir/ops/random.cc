// Schemas of the random generators (RandomNormal, RandomUniform and their *Like forms, Bernoulli,
// Multinomial) and of SwiGLU.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

DType dtype_attr(InferContext& c, DType dflt) {
  if (!c.attrs().has("dtype")) return dflt;
  int64_t code = c.attrs().get_int("dtype", 1);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(code)), ModelError)
      << c.node().op_type << ": dtype " << code << " is not supported";
  return static_cast<DType>(code);
}

void infer_random(InferContext& c) {
  DType t = dtype_attr(c, DType::Float32);
  R1_CHECK(is_float(t) || t == DType::Float64, ModelError)
      << c.node().op_type << " of dtype " << dtype_name(t) << " is not supported (a float type)";
  std::vector<int64_t> shape = c.attrs().get_ints("shape");
  R1_CHECK(c.attrs().has("shape"), ModelError) << c.node().op_type << " needs the shape attribute";
  for (int64_t d : shape) R1_CHECK(d >= 0, ModelError) << c.node().op_type << ": negative dim " << d;
  c.set_output(0, t, Shape(shape.begin(), shape.end()));
}

void infer_random_like(InferContext& c) {
  DType t = dtype_attr(c, c.input_dtype(0));
  R1_CHECK(is_float(t) || t == DType::Float64, ModelError)
      << c.node().op_type << " of dtype " << dtype_name(t) << " is not supported (a float type)";
  c.set_output(0, t, c.input_shape(0));
}

void infer_bernoulli(InferContext& c) {
  DType in = c.input_dtype(0);
  R1_CHECK(is_float(in) || in == DType::Float64, ModelError) << "Bernoulli: input must be probabilities (a float type)";
  c.set_output(0, dtype_attr(c, in), c.input_shape(0));
}

void infer_multinomial(InferContext& c) {
  check_float(c, 0, "Multinomial", "input");
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 2, InputError) << "Multinomial: input must be [batch, classes], got " << shape_str(s);
  DType t = dtype_attr(c, DType::Int32);
  R1_CHECK(t == DType::Int32 || t == DType::Int64, ModelError) << "Multinomial: dtype must be int32 or int64";
  int64_t n = c.attrs().get_int("sample_size", 1);
  R1_CHECK(n > 0, ModelError) << "Multinomial: sample_size must be positive, got " << n;
  c.set_output(0, t, {s[0], n});
}

void infer_swiglu(InferContext& c) {
  check_float(c, 0, "SwiGLU", "A");
  R1_CHECK(c.input_dtype(1) == c.input_dtype(0), ModelError) << "SwiGLU: A and B must share a dtype";
  if (c.input_has_shape(0) && c.input_has_shape(1))
    R1_CHECK(c.input_shape(0) == c.input_shape(1), InputError)
        << "SwiGLU: A " << shape_str(c.input_shape(0)) << " and B " << shape_str(c.input_shape(1))
        << " must have one shape (no broadcasting)";
  infer_like_input0(c);
}

}  // namespace

void register_random_ops(OpRegistry& reg) {
  reg.add(schema("RandomNormal", 0, 0, infer_random));
  reg.add(schema("RandomUniform", 0, 0, infer_random));
  reg.add(schema("RandomNormalLike", 1, 1, infer_random_like));
  reg.add(schema("RandomUniformLike", 1, 1, infer_random_like));
  reg.add(with_opsets(schema("Bernoulli", 1, 1, infer_bernoulli), 15));
  reg.add(with_opsets(schema("Multinomial", 1, 1, infer_multinomial), 7));
  reg.add(with_opsets(schema("SwiGLU", 2, 2, infer_swiglu), 28));
}
}  // namespace r1
