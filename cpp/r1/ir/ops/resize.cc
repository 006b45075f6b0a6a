// Schemas and shape inference of Resize and Upsample (output shape and scales: conv_util.h).
#include <string>

#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

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

void register_resize_ops(OpRegistry& reg) {
  reg.add(schema("Resize", 1, 4, infer_resize));
  reg.add(schema("Upsample", 1, 2, infer_upsample));
}
}  // namespace r1
