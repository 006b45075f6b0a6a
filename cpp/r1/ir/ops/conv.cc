// Schemas and shape inference of the conv family: Conv, ConvTranspose, pools, Resize, Upsample.
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void check_float(DType t, const char* op) {
  R1_CHECK(is_float(t), ModelError) << op << " of " << dtype_name(t) << " is not supported";
}

Shape spatial(const Shape& x) { return Shape(x.begin() + 2, x.end()); }

void infer_conv(InferContext& c) {
  DType t = c.input_dtype(0);
  check_float(t, "Conv");
  R1_CHECK(c.input_dtype(1) == t, ModelError) << "Conv: X and W have different dtypes";
  if (c.has_input(2)) {
    R1_CHECK(c.input_dtype(2) == t, ModelError) << "Conv: X and B have different dtypes";
  }
  const Shape& x = c.input_shape(0);
  int r = static_cast<int>(x.size());
  R1_CHECK(r >= 3, InputError) << "Conv input must have rank >= 3, got " << shape_str(x);
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "Conv group must be positive";
  const Shape& w = c.input_shape(1);
  R1_CHECK(static_cast<int>(w.size()) == r, InputError)
      << "Conv weight " << shape_str(w) << " does not match input " << shape_str(x);
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  if (is_known(x[1]) && is_known(w[1])) {
    R1_CHECK(x[1] == w[1] * group, InputError)
        << "Conv input has " << x[1] << " channels, weight expects " << w[1] << " x group " << group;
  }
  if (is_known(w[0])) {
    R1_CHECK(w[0] % group == 0, InputError) << "Conv output channels not divisible by group";
  }
  if (c.has_input(2) && c.input_has_shape(2)) {
    const Shape& b = c.input_shape(2);
    R1_CHECK(b.size() == 1, InputError) << "Conv bias must be 1-D";
    if (is_known(b[0]) && is_known(w[0])) {
      R1_CHECK(b[0] == w[0], InputError) << "Conv bias size mismatch";
    }
  }
  conv_geom::Geom g = conv_geom::forward(c.attrs(), spatial(x), k, false);
  Shape out = {x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
}

void infer_conv_transpose(InferContext& c) {
  DType t = c.input_dtype(0);
  check_float(t, "ConvTranspose");
  R1_CHECK(c.input_dtype(1) == t, ModelError) << "ConvTranspose: X and W have different dtypes";
  const Shape& x = c.input_shape(0);
  int r = static_cast<int>(x.size());
  R1_CHECK(r >= 3, InputError) << "ConvTranspose input must have rank >= 3, got " << shape_str(x);
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "ConvTranspose group must be positive";
  const Shape& w = c.input_shape(1);
  R1_CHECK(static_cast<int>(w.size()) == r, InputError)
      << "ConvTranspose weight " << shape_str(w) << " does not match input " << shape_str(x);
  if (is_known(x[1]) && is_known(w[0])) {
    R1_CHECK(x[1] == w[0], InputError) << "ConvTranspose input has " << x[1] << " channels, weight expects " << w[0];
  }
  if (is_known(w[0])) {
    R1_CHECK(w[0] % group == 0, InputError) << "ConvTranspose channels not divisible by group";
  }
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  conv_geom::Geom g = conv_geom::transpose(c.attrs(), spatial(x), k);
  Shape out = {x[0], is_known(w[1]) ? w[1] * group : kUnknownDim};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
}

void infer_pool(InferContext& c, const char* op, bool allow_int) {
  DType t = c.input_dtype(0);
  if (allow_int) {
    R1_CHECK(is_float(t) || t == DType::Int8 || t == DType::UInt8, ModelError)
        << op << " of " << dtype_name(t) << " is not supported";
  } else {
    check_float(t, op);
  }
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() >= 3, InputError) << op << " input must have rank >= 3, got " << shape_str(x);
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  R1_CHECK(!k.empty(), ModelError) << op << " needs attribute kernel_shape";
  if (c.attrs().get_int("storage_order", 0) != 0) {
    R1_CHECK(x.size() == 4, ModelError) << "storage_order=1 is not supported for rank " << x.size();
  }
  conv_geom::Geom g = conv_geom::forward(c.attrs(), spatial(x), k, true);
  Shape out = {x[0], x[1]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
  if (c.has_output(1)) c.set_output(1, DType::Int64, out);
}

void infer_global_pool(InferContext& c, const char* op, bool allow_int) {
  DType t = c.input_dtype(0);
  if (allow_int) {
    R1_CHECK(is_float(t) || t == DType::Int8 || t == DType::UInt8, ModelError)
        << op << " of " << dtype_name(t) << " is not supported";
  } else {
    check_float(t, op);
  }
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() >= 3, InputError) << op << " input must have rank >= 3, got " << shape_str(x);
  Shape out = {x[0], x[1]};
  out.resize(x.size(), 1);
  c.set_output(0, t, out);
}

void check_resize_attrs(const AttributeMap& a, int opset, bool upsample) {
  std::string mode = a.get_string("mode", "nearest");
  if (upsample && mode == "bilinear") mode = "linear";
  R1_CHECK(mode == "nearest" || mode == "linear" || (!upsample && opset >= 11 && mode == "cubic"), ModelError)
      << "Resize mode '" << mode << "' is not supported";
  if (upsample || opset < 11) return;
  std::string ctm = a.get_string("coordinate_transformation_mode", "half_pixel");
  R1_CHECK(ctm == "half_pixel" || ctm == "pytorch_half_pixel" || ctm == "align_corners" || ctm == "asymmetric" ||
               ctm == "tf_crop_and_resize" || ctm == "tf_half_pixel_for_nn" ||
               (opset >= 19 && ctm == "half_pixel_symmetric"),
           ModelError)
      << "coordinate_transformation_mode '" << ctm << "' is not supported";
  std::string nm = a.get_string("nearest_mode", "round_prefer_floor");
  R1_CHECK(nm == "round_prefer_floor" || nm == "round_prefer_ceil" || nm == "floor" || nm == "ceil", ModelError)
      << "nearest_mode '" << nm << "' is not supported";
}

void infer_resize(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "Resize of bool is not supported";
  int opset = c.opset();
  check_resize_attrs(c.attrs(), opset, false);
  const Shape& x = c.input_shape(0);
  size_t si = opset < 11 ? 1 : 2, zi = 3;
  bool has_sizes = opset >= 11 && c.has_input(zi);
  std::vector<double> scales;
  Shape out;
  conv_geom::resize_shape(c.attrs(), opset, x, c.has_input(si), c.input_value(si), has_sizes,
                          has_sizes ? c.input_value(zi) : nullptr, &scales, &out);
  c.set_output(0, t, out);
}

void infer_upsample(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "Upsample of bool is not supported";
  check_resize_attrs(c.attrs(), c.opset(), true);
  const Shape& x = c.input_shape(0);
  std::vector<double> scales;
  Shape out;
  if (c.opset() < 9) {
    std::vector<float> sc = c.attrs().get_floats("scales");
    R1_CHECK(!sc.empty(), ModelError) << "Upsample needs attribute scales";
    Tensor st = Tensor::empty(DType::Float32, {static_cast<int64_t>(sc.size())});
    for (size_t i = 0; i < sc.size(); ++i) st.data<float>()[i] = sc[i];
    conv_geom::resize_shape(AttributeMap(), 10, x, true, &st, false, nullptr, &scales, &out);
  } else {
    R1_CHECK(c.has_input(1), ModelError) << "Upsample needs input scales";
    conv_geom::resize_shape(AttributeMap(), 10, x, true, c.input_value(1), false, nullptr, &scales, &out);
  }
  c.set_output(0, t, out);
}

}  // namespace

void register_conv_ops(OpRegistry& reg) {
  reg.add(heavy(schema("Conv", 2, 3, infer_conv)));
  reg.add(heavy(schema("ConvTranspose", 2, 3, infer_conv_transpose)));
  reg.add(schema("MaxPool", 1, 1, [](InferContext& c) { infer_pool(c, "MaxPool", true); }, 1, 2));
  reg.add(schema("AveragePool", 1, 1, [](InferContext& c) { infer_pool(c, "AveragePool", false); }));
  reg.add(schema("LpPool", 1, 1, [](InferContext& c) { infer_pool(c, "LpPool", false); }));
  reg.add(schema("GlobalAveragePool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalAveragePool", false); }));
  reg.add(schema("GlobalMaxPool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalMaxPool", true); }));
  reg.add(schema("GlobalLpPool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalLpPool", false); }));
  reg.add(schema("Resize", 1, 4, infer_resize));
  reg.add(schema("Upsample", 1, 2, infer_upsample));
}
}  // namespace r1
