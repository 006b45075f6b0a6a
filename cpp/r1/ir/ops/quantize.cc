// Schemas of the quantization ops: QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked),
// DynamicQuantizeLinear and QLinearMatMul, and r1::QuantDequant (a fused QuantizeLinear ->
// DequantizeLinear). Quantized types: int8, uint8, int16, uint16 (and int32 for DequantizeLinear's
// input); the 2-, 4- and 8-bit float types are not supported.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/matmul_infer.h"

namespace r1 {
namespace {

bool quantized_type(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16;
}

void check_quantized(InferContext& c, DType t, const char* what) {
  R1_CHECK(quantized_type(t), ModelError) << c.node().op_type << ": " << what << " of dtype " << dtype_name(t)
                                          << " is not supported (int8, uint8, int16 or uint16)";
}

void infer_quantize(InferContext& c) {
  check_float(c, 0, "QuantizeLinear", "x");
  DType out = DType::UInt8;
  if (c.has_input(2)) {
    out = c.input_dtype(2);
  } else if (c.attrs().has("output_dtype")) {
    int64_t code = c.attrs().get_int("output_dtype", 2);
    R1_CHECK(dtype_is_valid_code(static_cast<int>(code)), ModelError)
        << "QuantizeLinear: output_dtype " << code << " is not supported (int8, uint8, int16 or uint16)";
    out = static_cast<DType>(code);
  }
  check_quantized(c, out, "the output");
  c.set_output(0, out, c.input_shape(0));
}

void infer_dequantize(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(quantized_type(t) || t == DType::Int32, ModelError)
      << "DequantizeLinear: x of dtype " << dtype_name(t) << " is not supported (int8, uint8, int16, uint16 or int32)";
  if (c.has_input(2))
    R1_CHECK(c.input_dtype(2) == t, ModelError) << "DequantizeLinear: x_zero_point must have x's dtype";
  DType out = c.input_dtype(1);
  if (c.attrs().has("output_dtype") && c.attrs().get_int("output_dtype", 0) != 0)
    out = static_cast<DType>(c.attrs().get_int("output_dtype", 1));
  R1_CHECK(is_float(out), ModelError) << "DequantizeLinear: output of dtype " << dtype_name(out)
                                      << " is not supported (float32, float16 or bfloat16)";
  c.set_output(0, out, c.input_shape(0));
}

void infer_dynamic_quantize(InferContext& c) {
  check_float(c, 0, "DynamicQuantizeLinear", "x");
  c.set_output(0, DType::UInt8, c.input_shape(0));
  c.set_output(1, DType::Float32, {});
  c.set_output(2, DType::UInt8, {});
}

// a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
void infer_qlinear_matmul(InferContext& c) {
  DType ta = c.input_dtype(0), tb = c.input_dtype(3), ty = c.input_dtype(7);
  for (DType t : {ta, tb, ty})
    R1_CHECK(t == DType::Int8 || t == DType::UInt8, ModelError)
        << "QLinearMatMul of dtype " << dtype_name(t) << " is not supported (int8 or uint8)";
  for (size_t i : {1, 4, 6}) check_float(c, i, "QLinearMatMul", "scale");
  c.set_output(0, ty, matmul_shape(c.input_shape(0), c.input_shape(3), "QLinearMatMul"));
}

// r1::QuantDequant: x rounded to a quantization grid and back, what a QuantizeLinear ->
// DequantizeLinear pair computes (qdq_fusion makes it): attrs scale (> 0), zero_point, qmin < qmax.
void infer_quant_dequant(InferContext& c) {
  check_float(c, 0, "QuantDequant", "x");
  const float scale = c.attrs().get_float("scale", 0.f);
  const int64_t qmin = c.attrs().get_int("qmin", 0), qmax = c.attrs().get_int("qmax", 255);
  const int64_t zero = c.attrs().get_int("zero_point", 0);
  R1_CHECK(scale > 0.f && qmin < qmax && zero >= qmin && zero <= qmax, ModelError)
      << "QuantDequant: needs scale > 0 and qmin <= zero_point <= qmax, got scale " << scale << ", zero_point " << zero
      << ", range [" << qmin << ", " << qmax << "]";
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

// r1::GatherDequant(table, scales, indices): rows of an int8 table [V, ...] times their float scales [V]:
// an embedding table quantized per row (the precision pass makes it from a Gather at precision int8).
void infer_gather_dequant(InferContext& c) {
  R1_CHECK(c.input_dtype(0) == DType::Int8, ModelError) << "GatherDequant: the table must be int8";
  R1_CHECK(c.input_dtype(1) == DType::Float32, ModelError) << "GatherDequant: the scales must be float32";
  const DType it = c.input_dtype(2);
  R1_CHECK(it == DType::Int32 || it == DType::Int64, ModelError) << "GatherDequant: indices must be int32 or int64";
  const Shape& t = c.input_shape(0);
  R1_CHECK(t.size() >= 1, ModelError) << "GatherDequant: the table must be at least 1-D";
  Shape out = c.input_shape(2);
  out.insert(out.end(), t.begin() + 1, t.end());
  c.set_output(0, DType::Float32, out);
}

}  // namespace

void register_quantize_ops(OpRegistry& reg) {
  OpSchema gdq = schema("GatherDequant", 3, 3, infer_gather_dequant);
  gdq.domain = "r1";
  reg.add(gdq);
  OpSchema qdq = schema("QuantDequant", 1, 1, infer_quant_dequant);
  qdq.domain = "r1";
  reg.add(qdq);
  reg.add(with_opsets(schema("QuantizeLinear", 2, 3, infer_quantize), 10));
  reg.add(with_opsets(schema("DequantizeLinear", 2, 3, infer_dequantize), 10));
  reg.add(with_opsets(schema("DynamicQuantizeLinear", 1, 1, infer_dynamic_quantize, 3, 3), 11));
  reg.add(heavy(with_opsets(schema("QLinearMatMul", 8, 8, infer_qlinear_matmul), 10)));
}
}  // namespace r1
