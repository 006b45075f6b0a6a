// Schemas of ConvInteger (int8 / uint8 operands, int32 output) and QLinearConv (quantized in and out).
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

bool int8_type(DType t) { return t == DType::Int8 || t == DType::UInt8; }

// x [N, C, spatial...], w [M, C / group, k...] -> [N, M, out...].
Shape conv_out(InferContext& c, size_t xi, size_t wi) {
  const Shape& x = c.input_shape(xi);
  const Shape& w = c.input_shape(wi);
  R1_CHECK(x.size() >= 3 && w.size() == x.size(), InputError)
      << c.node().op_type << ": x " << shape_str(x) << " and w " << shape_str(w) << " do not fit a convolution";
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << c.node().op_type << ": group must be positive";
  if (is_known(x[1]) && is_known(w[1]))
    R1_CHECK(x[1] == w[1] * group, InputError)
        << c.node().op_type << ": x has " << x[1] << " channels, w expects " << w[1] << " x group " << group;
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  conv_geom::Geom g = conv_geom::forward(c.attrs(), spatial(x), k, false);
  Shape out = {x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  return out;
}

void infer_conv_integer(InferContext& c) {
  for (size_t i = 0; i < 4; ++i)
    if (c.has_input(i))
      R1_CHECK(int8_type(c.input_dtype(i)), ModelError)
          << "ConvInteger of dtype " << dtype_name(c.input_dtype(i)) << " is not supported (int8 or uint8)";
  c.set_output(0, DType::Int32, conv_out(c, 0, 1));
}

// x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32).
void infer_qlinear_conv(InferContext& c) {
  for (size_t i : {0, 3, 7})
    R1_CHECK(int8_type(c.input_dtype(i)), ModelError)
        << "QLinearConv of dtype " << dtype_name(c.input_dtype(i)) << " is not supported (int8 or uint8)";
  for (size_t i : {1, 4, 6}) check_float(c, i, "QLinearConv", "scale");
  if (c.has_input(8)) R1_CHECK(c.input_dtype(8) == DType::Int32, ModelError) << "QLinearConv: B must be int32";
  c.set_output(0, c.input_dtype(7), conv_out(c, 0, 3));
}

}  // namespace

void register_conv_integer_ops(OpRegistry& reg) {
  reg.add(heavy(with_opsets(schema("ConvInteger", 2, 4, infer_conv_integer), 10)));
  reg.add(heavy(with_opsets(schema("QLinearConv", 8, 9, infer_qlinear_conv), 10)));
}
}  // namespace r1
