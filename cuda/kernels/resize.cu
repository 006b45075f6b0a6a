// Resize (opsets 10-19+) and Upsample (7-9) on the GPU. CPU reference (its arithmetic is copied here):
// cpp/r1/cpu/kernels/resize.cc, itself following the ONNX reference implementation; output shape
// and per-axis scales: conv_geom::resize_shape, the code shape inference runs. roi, scales and sizes
// (Upsample's scales) are host inputs.
//
// Two launches. resize_tables: one thread per (axis, output index) computes, in double as the CPU,
// the source coordinate (coordinate_transformation_mode), then that index's taps: the input indices
// (clamped into the axis) and float weights (nearest: one tap of weight 1 by nearest_mode; linear /
// cubic: 2 / 4 taps, or more with antialias; exclude_outside renormalizes), and an out-of-roi flag
// (tf_crop_and_resize). Axes whose mapping is the identity get one tap of weight 1, as the CPU skips
// them. Then one thread per output element: nearest gathers the element in its own dtype (any dtype
// of 1, 2, 4 or 8 bytes, tf_crop_and_resize's extrapolation is not applied in nearest mode, as the CPU);
// linear / cubic (float dtypes) sum the product of the per-axis weights over every tap combination in
// fp32 (the CPU applies the separable axes one after another in fp32: same value up to rounding), or
// write extrapolation_value where any axis falls outside the roi.
//
// The coordinate is computed without fused multiply-adds (explicitly rounded ops), so that ties of
// nearest_mode and the roi bounds fall exactly as in the CPU's double arithmetic.
#include <cmath>
#include <string>

#include "elementwise.cuh"
#include "families.h"
#include "resize_kernels.cuh"
#include "conv_util.cuh"

namespace r1::gpu {
namespace {

// ---------------------------------------------------------------- host side

ResizeOpts parse_opts(const AttributeMap& a, int opset, bool upsample) {
  ResizeOpts o;
  const std::string mode = a.get_string("mode", "nearest");
  if (mode == "nearest")
    o.mode = kNearest;
  else if (mode == "linear" || (upsample && mode == "bilinear"))
    o.mode = kLinear;
  else if (mode == "cubic" && !upsample)
    o.mode = kCubic;
  else
    R1_THROW(ModelError) << "Resize mode '" << mode << "' is not supported";
  if (upsample || opset < 11) {
    o.ctm = kAsymmetric;
    o.nearest = kLegacy;
    return o;
  }
  const std::string ctm = a.get_string("coordinate_transformation_mode", "half_pixel");
  if (ctm == "half_pixel")
    o.ctm = kHalfPixel;
  else if (ctm == "half_pixel_symmetric")
    o.ctm = kHalfPixelSymmetric;
  else if (ctm == "pytorch_half_pixel")
    o.ctm = kPytorchHalfPixel;
  else if (ctm == "align_corners")
    o.ctm = kAlignCorners;
  else if (ctm == "asymmetric")
    o.ctm = kAsymmetric;
  else if (ctm == "tf_half_pixel_for_nn")
    o.ctm = kTfHalfPixelForNN;
  else if (ctm == "tf_crop_and_resize")
    o.ctm = kTfCropAndResize;
  else
    R1_THROW(ModelError) << "coordinate_transformation_mode '" << ctm << "' is not supported";
  const std::string nm = a.get_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor")
    o.nearest = kRoundPreferFloor;
  else if (nm == "round_prefer_ceil")
    o.nearest = kRoundPreferCeil;
  else if (nm == "floor")
    o.nearest = kFloor;
  else if (nm == "ceil")
    o.nearest = kCeil;
  else
    R1_THROW(ModelError) << "nearest_mode '" << nm << "' is not supported";
  o.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
  o.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  o.extrapolation = a.get_float("extrapolation_value", 0.f);
  o.antialias = opset >= 18 && a.get_int("antialias", 0) != 0;
  return o;
}

// Taps per output index of a non-identity axis (the size of the CPU's coeffs()).
int taps_for(const ResizeOpts& o, double scale) {
  if (o.mode == kNearest) return 1;
  if (!o.antialias) return o.mode == kLinear ? 2 : 4;
  const double s = std::min(scale, 1.0);
  const int64_t start = static_cast<int64_t>(std::floor((o.mode == kLinear ? -1 : -2) / s) + 1);
  const int64_t n = 2 - 2 * start;
  R1_CHECK(n >= 1 && n <= (int64_t{1} << 20), InputError)
      << "Resize antialias with scale " << scale << " needs " << n << " taps per output, too many";
  return static_cast<int>(n);
}

void run_resize(KernelContext& ctx, const ResizeOpts& o, const std::vector<double>& scales,
                const std::vector<double>& roi) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const std::string label = ctx.node().label();
  const int r = x.rank();
  R1_CHECK(y.dtype() == x.dtype(), InternalError) << "node " << label << ": Resize output dtype differs from X";
  R1_CHECK(y.rank() == r, InternalError) << "node " << label << ": Resize output rank differs from X";
  R1_CHECK(r >= 1 && r <= kMaxRank, ModelError)
      << "node " << label << ": Resize of rank " << r << " is not supported on " R1_GPU_BACKEND_NAME " (1 to "
      << kMaxRank << ")";
  if (y.numel() == 0) return;
  R1_CHECK(x.numel() > 0, InputError) << "Resize of an empty tensor to a non-empty one";
  ResizeParams p{};
  p.o = o;
  p.rank = r;
  int64_t stride = 1, taps_total = 0, rows_total = 0;
  for (int a = r - 1; a >= 0; --a) {
    p.in_stride[a] = stride;
    stride *= x.shape()[a];
  }
  for (int a = 0; a < r; ++a) {
    const int64_t in_len = x.shape()[a], out_len = y.shape()[a];
    p.in_len[a] = in_len;
    p.out_len[a] = out_len;
    p.scale[a] = scales[a];
    p.r0[a] = roi.empty() ? 0.0 : roi[a];
    p.r1[a] = roi.empty() ? 1.0 : roi[r + a];
    // The CPU's identity test: same length, every output index maps to itself, none out of the roi.
    bool identity = in_len == out_len;
    for (int64_t i = 0; identity && i < out_len; ++i) {
      const double xo = x_original(o.ctm, static_cast<double>(i), p.scale[a], out_len, in_len, p.r0[a], p.r1[a]);
      if (o.ctm == kTfCropAndResize && (xo < 0 || xo > static_cast<double>(in_len - 1))) identity = false;
      if (xo != static_cast<double>(i)) identity = false;
    }
    p.identity[a] = identity ? 1 : 0;
    p.taps[a] = (o.mode != kNearest && identity) ? 1 : taps_for(o, p.scale[a]);
    p.tab_off[a] = taps_total;
    p.row_off[a] = rows_total;
    taps_total += out_len * p.taps[a];
    rows_total += out_len;
  }
  p.total_rows = rows_total;
  KernelLaunch env(ctx);
  const size_t idx_bytes = static_cast<size_t>(taps_total) * sizeof(int64_t);
  const size_t w_bytes = static_cast<size_t>(taps_total) * sizeof(float);
  std::shared_ptr<Buffer> tables = ctx.allocator().allocate(idx_bytes + w_bytes + static_cast<size_t>(rows_total));
  char* base = static_cast<char*>(tables->data());
  int64_t* idx = reinterpret_cast<int64_t*>(base);
  float* w = reinterpret_cast<float*>(base + idx_bytes);
  uint8_t* oob = reinterpret_cast<uint8_t*>(base + idx_bytes + w_bytes);
  resize_tables<<<blocks_for(rows_total), kThreads, 0, env.stream()>>>(p, idx, w, oob);
  R1_GPU_CHECK_LAUNCH();
  const int64_t total = y.numel();
  const unsigned grid = blocks_for(total, kThreads, int64_t{1} << 20);
  if (o.mode == kNearest) {
    switch (dtype_size(x.dtype())) {
      case 1:
        resize_nearest_kernel<uint8_t><<<grid, kThreads, 0, env.stream()>>>(
            static_cast<const uint8_t*>(x.raw()), static_cast<uint8_t*>(y.raw()), p, idx, total);
        break;
      case 2:
        resize_nearest_kernel<uint16_t><<<grid, kThreads, 0, env.stream()>>>(
            static_cast<const uint16_t*>(x.raw()), static_cast<uint16_t*>(y.raw()), p, idx, total);
        break;
      case 4:
        resize_nearest_kernel<uint32_t><<<grid, kThreads, 0, env.stream()>>>(
            static_cast<const uint32_t*>(x.raw()), static_cast<uint32_t*>(y.raw()), p, idx, total);
        break;
      case 8:
        resize_nearest_kernel<uint64_t><<<grid, kThreads, 0, env.stream()>>>(
            static_cast<const uint64_t*>(x.raw()), static_cast<uint64_t*>(y.raw()), p, idx, total);
        break;
      default:
        R1_THROW(ModelError) << "node " << label << ": Resize of " << dtype_name(x.dtype())
                             << " is not supported on " R1_GPU_BACKEND_NAME;
    }
    R1_GPU_CHECK_LAUNCH();
    return;
  }
  dispatch_float_types(x.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    resize_interp_kernel<T><<<grid, kThreads, 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), p, idx, w, oob, total);
    R1_GPU_CHECK_LAUNCH();
  });
}

void resize(KernelContext& ctx) {
  const int opset = ctx.opset();
  const ResizeOpts o = parse_opts(ctx.attrs(), opset, false);
  const Tensor& x = ctx.input(0);
  const int r = x.rank();
  const size_t si = opset < 11 ? 1 : 2, zi = 3;
  const bool has_sizes = opset >= 11 && ctx.has_input(zi);
  std::vector<double> scales;
  Shape out;
  conv_geom::resize_shape(ctx.attrs(), opset, x.shape(), ctx.has_input(si),
                          ctx.has_input(si) ? &ctx.input(si) : nullptr, has_sizes, has_sizes ? &ctx.input(zi) : nullptr,
                          &scales, &out);
  std::vector<double> roi;
  if (o.ctm == kTfCropAndResize) {
    R1_CHECK(ctx.has_input(1) && ctx.input(1).numel() > 0, InputError) << "tf_crop_and_resize needs a roi input";
    const Tensor& rt = ctx.input(1);
    std::vector<double> rv(rt.numel());
    for (int64_t i = 0; i < rt.numel(); ++i) rv[i] = rt.scalar_as_double(i);
    const std::vector<int64_t> axes = opset >= 18 ? ctx.attrs().get_ints("axes") : std::vector<int64_t>{};
    roi.assign(2 * r, 0.0);
    for (int a = 0; a < r; ++a) roi[r + a] = 1.0;
    if (axes.empty()) {
      R1_CHECK(static_cast<int>(rv.size()) == 2 * r, InputError) << "roi must have 2 * rank values";
      roi = rv;
    } else {
      const int na = static_cast<int>(axes.size());
      R1_CHECK(static_cast<int>(rv.size()) == 2 * na, InputError) << "roi must have 2 * len(axes) values";
      for (int j = 0; j < na; ++j) {
        const int ax = normalize_axis(axes[j], r, "Resize axes");
        roi[ax] = rv[j];
        roi[r + ax] = rv[na + j];
      }
    }
  }
  run_resize(ctx, o, scales, roi);
}

void upsample(KernelContext& ctx) {
  const ResizeOpts o = parse_opts(ctx.attrs(), ctx.opset(), true);
  const Tensor& x = ctx.input(0);
  std::vector<double> scales;
  Shape out;
  if (ctx.opset() < 9) {
    const std::vector<float> sc = ctx.attrs().get_floats("scales");
    Tensor st = Tensor::empty(DType::Float32, {static_cast<int64_t>(sc.size())});
    for (size_t i = 0; i < sc.size(); ++i) st.data<float>()[i] = sc[i];
    conv_geom::resize_shape(AttributeMap(), 10, x.shape(), true, &st, false, nullptr, &scales, &out);
  } else {
    R1_CHECK(ctx.has_input(1), InputError) << "node " << ctx.node().label() << ": Upsample needs the scales input";
    conv_geom::resize_shape(AttributeMap(), 10, x.shape(), true, &ctx.input(1), false, nullptr, &scales, &out);
  }
  run_resize(ctx, o, scales, {});
}

bool float_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// X and Y of one dtype (inputs 1.. are host inputs, any dtype), rank 1..kMaxRank where known:
// nearest moves elements of any dtype of 1, 2, 4 or 8 bytes; linear / cubic need a float dtype.
bool resize_supports(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.empty() || !n.outputs[0]) return false;
  const DType t = n.inputs[0]->dtype;
  if (n.outputs[0]->dtype != t) return false;
  if (n.inputs[0]->has_shape && (n.inputs[0]->shape.empty() || n.inputs[0]->shape.size() > kMaxRank)) return false;
  if (n.attrs.get_string("mode", "nearest") == "nearest") {
    const size_t es = dtype_size(t);
    return es == 1 || es == 2 || es == 4 || es == 8;
  }
  return float_dtype(t);
}

}  // namespace

void register_resize_kernels(KernelTable& t) {
  t.add("Resize", resize, "", (1u << 1) | (1u << 2) | (1u << 3), resize_supports);
  t.add("Upsample", upsample, "", 1u << 1, resize_supports);
}
}  // namespace r1::gpu
