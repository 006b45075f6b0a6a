// Schemas of the detector post-processing ops: NonMaxSuppression, RoiAlign, MaxRoiPool.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// boxes [batches, boxes, 4], scores [batches, classes, boxes], then optional scalars
// max_output_boxes_per_class, iou_threshold, score_threshold. Output [selected, 3] int64, one row
// (batch, class, box) per kept box: its length depends on the data.
void infer_nms(InferContext& c) {
  check_float(c, 0, "NonMaxSuppression", "boxes");
  check_float(c, 1, "NonMaxSuppression", "scores");
  if (c.input_has_shape(0) && c.input_has_shape(1)) {
    const Shape& b = c.input_shape(0);
    const Shape& s = c.input_shape(1);
    R1_CHECK(b.size() == 3 && s.size() == 3, InputError)
        << "NonMaxSuppression: boxes must be [batches, boxes, 4] and scores [batches, classes, boxes], got ranks "
        << b.size() << " and " << s.size();
    R1_CHECK(!is_known(b[2]) || b[2] == 4, InputError) << "NonMaxSuppression: boxes' last dim must be 4, got " << b[2];
    R1_CHECK(!is_known(b[0]) || !is_known(s[0]) || b[0] == s[0], InputError)
        << "NonMaxSuppression: boxes have " << b[0] << " batches and scores " << s[0];
    R1_CHECK(!is_known(b[1]) || !is_known(s[2]) || b[1] == s[2], InputError)
        << "NonMaxSuppression: boxes hold " << b[1] << " boxes and scores " << s[2];
  }
  if (c.has_input(2))
    R1_CHECK(c.input_dtype(2) == DType::Int64, ModelError)
        << "NonMaxSuppression: max_output_boxes_per_class must be int64, got " << dtype_name(c.input_dtype(2));
  for (size_t i = 3; i < 5; ++i)
    if (c.has_input(i)) check_float(c, i, "NonMaxSuppression", i == 3 ? "iou_threshold" : "score_threshold");
  int64_t center = c.attrs().get_int("center_point_box", 0);
  R1_CHECK(center == 0 || center == 1, ModelError)
      << "NonMaxSuppression: center_point_box must be 0 or 1, got " << center;
  c.set_output(0, DType::Int64, {kUnknownDim, 3});
}

// X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2), batch_indices [R] -> [R, C, output_height, output_width].
void infer_roi_align(InferContext& c) {
  check_float(c, 0, "RoiAlign", "X");
  check_float(c, 1, "RoiAlign", "rois");
  R1_CHECK(c.input_dtype(2) == DType::Int64 || c.input_dtype(2) == DType::Int32, ModelError)
      << "RoiAlign: batch_indices must be int64, got " << dtype_name(c.input_dtype(2));
  const Shape& x = c.input_shape(0);
  const Shape& r = c.input_shape(1);
  R1_CHECK(x.size() == 4, InputError) << "RoiAlign: X must be [N, C, H, W], got rank " << x.size();
  R1_CHECK(r.size() == 2 && (!is_known(r[1]) || r[1] == 4), InputError) << "RoiAlign: rois must be [rois, 4]";
  const Shape& bi = c.input_shape(2);
  R1_CHECK(bi.size() == 1, InputError) << "RoiAlign: batch_indices must be 1-D, got rank " << bi.size();
  R1_CHECK(!is_known(bi[0]) || !is_known(r[0]) || bi[0] == r[0], InputError)
      << "RoiAlign: " << r[0] << " rois but " << bi[0] << " batch indices";
  std::string mode = c.attrs().get_string("mode", "avg");
  R1_CHECK(mode == "avg" || mode == "max", ModelError) << "RoiAlign: mode must be avg or max, got '" << mode << "'";
  // Opset 10 had no such attribute and behaved as output_half_pixel.
  std::string ctm =
      c.attrs().get_string("coordinate_transformation_mode", c.opset() < 16 ? "output_half_pixel" : "half_pixel");
  R1_CHECK(ctm == "half_pixel" || ctm == "output_half_pixel", ModelError)
      << "RoiAlign: coordinate_transformation_mode must be half_pixel or output_half_pixel, got '" << ctm << "'";
  int64_t oh = c.attrs().get_int("output_height", 1), ow = c.attrs().get_int("output_width", 1);
  R1_CHECK(oh > 0 && ow > 0, ModelError) << "RoiAlign: output size must be positive, got " << oh << "x" << ow;
  R1_CHECK(c.attrs().get_int("sampling_ratio", 0) >= 0, ModelError) << "RoiAlign: sampling_ratio must be >= 0";
  c.set_output(0, c.input_dtype(0), {is_known(r[0]) ? r[0] : bi[0], x[1], oh, ow});
}

// X [N, C, H, W], rois [R, 5] (batch, x1, y1, x2, y2) -> [R, C, pooled_h, pooled_w].
void infer_max_roi_pool(InferContext& c) {
  check_float(c, 0, "MaxRoiPool", "X");
  check_float(c, 1, "MaxRoiPool", "rois");
  const Shape& x = c.input_shape(0);
  const Shape& r = c.input_shape(1);
  R1_CHECK(x.size() == 4, InputError) << "MaxRoiPool: X must be [N, C, H, W], got rank " << x.size();
  R1_CHECK(r.size() == 2 && (!is_known(r[1]) || r[1] == 5), InputError) << "MaxRoiPool: rois must be [rois, 5]";
  std::vector<int64_t> ps = c.attrs().get_ints("pooled_shape", {});
  R1_CHECK(ps.size() == 2 && ps[0] > 0 && ps[1] > 0, ModelError)
      << "MaxRoiPool: pooled_shape must hold two positive sizes";
  c.set_output(0, c.input_dtype(0), {r[0], x[1], ps[0], ps[1]});
}

}  // namespace

void register_detection_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("NonMaxSuppression", 2, 5, infer_nms), 10));
  reg.add(with_opsets(schema("RoiAlign", 3, 3, infer_roi_align), 10));
  reg.add(schema("MaxRoiPool", 2, 2, infer_max_roi_pool));
}
}  // namespace r1
