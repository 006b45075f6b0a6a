// Schemas of the image geometry ops: CenterCropPad, Col2Im, MaxUnpool, LRN, GridSample, AffineGrid.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_center_crop_pad(InferContext& c) {
  const Shape& s = c.input_shape(0);
  int r = static_cast<int>(s.size());
  std::vector<int64_t> axes = c.attrs().get_ints("axes");
  if (axes.empty())
    for (int i = 0; i < r; ++i) axes.push_back(i);
  std::vector<int64_t> sizes;
  Shape out = s;
  bool known = c.input_ints(1, &sizes);
  if (known)
    R1_CHECK(sizes.size() == axes.size(), InputError)
        << "CenterCropPad: shape holds " << sizes.size() << " sizes for " << axes.size() << " axes";
  for (size_t i = 0; i < axes.size(); ++i) {
    int a = normalize_axis(axes[i], r, "CenterCropPad axes");
    if (known) R1_CHECK(sizes[i] >= 0, InputError) << "CenterCropPad: negative size " << sizes[i];
    out[a] = known ? sizes[i] : kUnknownDim;
  }
  c.set_output(0, c.input_dtype(0), out);
}

// input [N, C * prod(block), L] -> [N, C, image...]
void infer_col2im(InferContext& c) {
  check_float(c, 0, "Col2Im", "input");
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 3, InputError) << "Col2Im: input must be [N, C * prod(block_shape), L], got " << shape_str(s);
  std::vector<int64_t> image, block;
  bool ki = c.input_ints(1, &image), kb = c.input_ints(2, &block);
  size_t nd = ki ? image.size() : static_cast<size_t>(static_len(c, 1));
  if (ki && kb)
    R1_CHECK(image.size() == block.size(), InputError) << "Col2Im: image_shape and block_shape differ in length";
  Shape out = {s[0], kUnknownDim};
  if (kb && is_known(s[1])) {
    int64_t prod = 1;
    for (int64_t b : block) prod *= b;
    R1_CHECK(prod > 0 && s[1] % prod == 0, InputError)
        << "Col2Im: input dim 1 (" << s[1] << ") is not a multiple of the block size " << prod;
    out[1] = s[1] / prod;
  }
  for (size_t i = 0; i < nd; ++i) out.push_back(ki ? image[i] : kUnknownDim);
  c.set_output(0, c.input_dtype(0), out);
}

void infer_max_unpool(InferContext& c) {
  check_float(c, 0, "MaxUnpool", "X");
  R1_CHECK(c.input_dtype(1) == DType::Int64, ModelError) << "MaxUnpool: I must be int64";
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() >= 3, InputError) << "MaxUnpool: X must be [N, C, spatial...], got " << shape_str(x);
  size_t nd = x.size() - 2;
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  R1_CHECK(k.size() == nd, ModelError) << "MaxUnpool: kernel_shape must hold " << nd << " sizes";
  std::vector<int64_t> st = c.attrs().get_ints("strides", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = c.attrs().get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  Shape out = {x[0], x[1]};
  std::vector<int64_t> given;
  if (c.has_input(2)) {
    if (c.input_ints(2, &given)) {
      R1_CHECK(given.size() == x.size(), InputError) << "MaxUnpool: output_shape must have rank " << x.size();
      c.set_output(0, c.input_dtype(0), Shape(given.begin(), given.end()));
    } else {
      c.set_output(0, c.input_dtype(0), Shape(x.size(), kUnknownDim));
    }
    return;
  }
  for (size_t i = 0; i < nd; ++i)
    out.push_back(is_known(x[i + 2]) ? (x[i + 2] - 1) * st[i] + k[i] - pads[i] - pads[i + nd] : kUnknownDim);
  c.set_output(0, c.input_dtype(0), out);
}

void infer_lrn(InferContext& c) {
  check_float(c, 0, "LRN", "input");
  R1_CHECK(c.attrs().get_int("size", 0) > 0, ModelError) << "LRN: size must be a positive attribute";
  R1_CHECK(c.input_rank(0) >= 2, InputError) << "LRN: input must be [N, C, ...]";
  infer_like_input0(c);
}

void infer_grid_sample(InferContext& c) {
  check_float(c, 0, "GridSample", "X");
  check_float(c, 1, "GridSample", "grid");
  const Shape& x = c.input_shape(0);
  const Shape& g = c.input_shape(1);
  size_t nd = x.size() - 2;
  R1_CHECK((x.size() == 4 || x.size() == 5) && g.size() == x.size() && (!is_known(g.back()) || g.back() == int64_t(nd)),
           InputError)
      << "GridSample: X must be [N, C, H, W] (or [N, C, D, H, W]) and grid [N, H_out, W_out, 2] (or 3-D), got "
      << shape_str(x) << " and " << shape_str(g);
  std::string mode = c.attrs().get_string("mode", c.opset() >= 20 ? "linear" : "bilinear");
  R1_CHECK(mode == "linear" || mode == "bilinear" || mode == "nearest" || mode == "cubic" || mode == "bicubic",
           ModelError)
      << "GridSample: mode '" << mode << "' is not supported";
  R1_CHECK(nd == 2 || (mode != "cubic" && mode != "bicubic"), ModelError)
      << "GridSample: cubic mode takes 4-D input only";
  std::string pad = c.attrs().get_string("padding_mode", "zeros");
  R1_CHECK(pad == "zeros" || pad == "border" || pad == "reflection", ModelError)
      << "GridSample: padding_mode '" << pad << "' is not supported";
  Shape out = {x[0], x[1]};
  for (size_t i = 0; i < nd; ++i) out.push_back(g[i + 1]);
  c.set_output(0, c.input_dtype(0), out);
}

// theta [N, 2, 3] (or [N, 3, 4]), size [N, C, H, W] (or [N, C, D, H, W]) -> grid [N, H, W, 2] (or 3-D).
void infer_affine_grid(InferContext& c) {
  check_float(c, 0, "AffineGrid", "theta");
  const Shape& th = c.input_shape(0);
  R1_CHECK(th.size() == 3, InputError) << "AffineGrid: theta must be [N, 2, 3] or [N, 3, 4], got " << shape_str(th);
  std::vector<int64_t> size;
  if (!c.input_ints(1, &size)) {
    int64_t n = static_len(c, 1);
    set_unknown_rank(c, 0, c.input_dtype(0), n < 0 ? -1 : n);
    return;
  }
  R1_CHECK(size.size() == 4 || size.size() == 5, InputError) << "AffineGrid: size must hold 4 or 5 values";
  Shape out = {size[0]};
  for (size_t i = 2; i < size.size(); ++i) out.push_back(size[i]);
  out.push_back(static_cast<int64_t>(size.size()) - 2);
  c.set_output(0, c.input_dtype(0), out);
}

}  // namespace

void register_image_geometry_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("CenterCropPad", 2, 2, infer_center_crop_pad), 18));
  reg.add(with_opsets(schema("Col2Im", 3, 3, infer_col2im), 18));
  reg.add(with_opsets(schema("MaxUnpool", 2, 3, infer_max_unpool), 9));
  reg.add(schema("LRN", 1, 1, infer_lrn));
  reg.add(with_opsets(schema("GridSample", 2, 2, infer_grid_sample), 16));
  reg.add(with_opsets(schema("AffineGrid", 2, 2, infer_affine_grid), 20));
}
}  // namespace r1
