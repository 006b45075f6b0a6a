// CPU Resize (opsets 10-19+) and Upsample (7-9), following the ONNX reference implementation.
// Each resized axis gets a table of (input index, weight) taps per output index. Nearest mode is
// one N-D gather in the tensor's own dtype; linear/cubic apply the axes one after another in fp32
// (the interpolation is separable), skipping axes whose mapping is the identity.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Ctm {
  HalfPixel,
  HalfPixelSymmetric,
  PytorchHalfPixel,
  AlignCorners,
  Asymmetric,
  TfHalfPixelForNN,
  TfCropAndResize
};
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Legacy };

struct ResizeOpts {
  Mode mode = Mode::Nearest;
  Ctm ctm = Ctm::HalfPixel;
  NearestMode nearest = NearestMode::RoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  float extrapolation = 0.f;
};

struct AxisMap {
  int taps = 1;
  std::vector<int64_t> idx;  // out_len * taps
  std::vector<float> w;      // out_len * taps
  std::vector<uint8_t> oob;  // out_len (tf_crop_and_resize extrapolation)
  bool identity = true;
  bool any_oob = false;
};

double x_original(const ResizeOpts& o, double x, double scale, int64_t out_len, int64_t in_len, double r0, double r1) {
  double out_w = scale * static_cast<double>(in_len);
  switch (o.ctm) {
    case Ctm::AlignCorners:
      return out_w == 1 ? 0.0 : x * static_cast<double>(in_len - 1) / (out_w - 1);
    case Ctm::Asymmetric:
      return x / scale;
    case Ctm::TfHalfPixelForNN:
      return (x + 0.5) / scale;
    case Ctm::TfCropAndResize: {
      double v = out_w == 1 ? (r1 - r0) * static_cast<double>(in_len - 1) / 2
                            : x * (r1 - r0) * static_cast<double>(in_len - 1) / (out_w - 1);
      return v + r0 * static_cast<double>(in_len - 1);
    }
    case Ctm::PytorchHalfPixel:
      return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case Ctm::HalfPixelSymmetric: {
      double adjustment = static_cast<double>(out_len) / out_w;
      double center = static_cast<double>(in_len) / 2;
      double offset = center * (1 - adjustment);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case Ctm::HalfPixel:
    default:
      return (x + 0.5) / scale - 0.5;
  }
}

std::vector<double> coeffs(const ResizeOpts& o, double ratio, double scale) {
  if (o.mode == Mode::Linear) {
    if (!o.antialias) return {1 - ratio, ratio};
    double s = std::min(scale, 1.0);
    int64_t start = static_cast<int64_t>(std::floor(-1 / s) + 1);
    int64_t fp = 2 - 2 * start;
    std::vector<double> c(fp);
    double sum = 0;
    for (int64_t i = 0; i < fp; ++i) {
      double a = (static_cast<double>(start + i) - ratio) * s;
      c[i] = std::clamp(1 - std::fabs(a), 0.0, 1.0);
      sum += c[i];
    }
    for (auto& v : c) v /= sum;
    return c;
  }
  // Cubic.
  double A = o.cubic_a;
  if (!o.antialias) {
    double r = ratio;
    return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
            ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
            ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A};
  }
  double s = std::min(scale, 1.0);
  auto f = [&](double x) {
    x = std::fabs(x);
    double x2 = x * x, x3 = x * x2;
    if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
    if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
    return 0.0;
  };
  int64_t i0 = static_cast<int64_t>(std::floor(-2 / s) + 1);
  int64_t i1 = 2 - i0;
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = i0; i < i1; ++i) {
    c.push_back(f(s * (static_cast<double>(i) - ratio)));
    sum += c.back();
  }
  for (auto& v : c) v /= sum;
  return c;
}

AxisMap axis_map(const ResizeOpts& o, int64_t in_len, int64_t out_len, double scale, double r0, double r1) {
  AxisMap m;
  m.identity = in_len == out_len;
  m.oob.assign(out_len, 0);
  if (o.mode == Mode::Nearest) {
    m.taps = 1;
    m.idx.resize(out_len);
    m.w.assign(out_len, 1.f);
  }
  for (int64_t i = 0; i < out_len; ++i) {
    double x = x_original(o, static_cast<double>(i), scale, out_len, in_len, r0, r1);
    if (o.ctm == Ctm::TfCropAndResize && (x < 0 || x > static_cast<double>(in_len - 1))) {
      m.oob[i] = 1;
      m.any_oob = true;
      m.identity = false;
    }
    if (x != static_cast<double>(i)) m.identity = false;
    double fl = std::floor(x);
    bool integer = fl == x;
    double x_int = integer ? x - 1 : fl;
    double ratio = x - x_int;  // in (0, 1]
    if (o.mode == Mode::Nearest) {
      int64_t pick;
      if (o.nearest == NearestMode::Legacy) {
        pick = scale < 1 ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
      } else if (integer) {
        pick = static_cast<int64_t>(x);
      } else {
        bool up;
        switch (o.nearest) {
          case NearestMode::RoundPreferFloor:
            up = ratio > 0.5;
            break;
          case NearestMode::RoundPreferCeil:
            up = ratio >= 0.5;
            break;
          case NearestMode::Floor:
            up = false;
            break;
          default:
            up = true;
            break;
        }
        pick = static_cast<int64_t>(x_int) + (up ? 1 : 0);
      }
      m.idx[i] = std::clamp<int64_t>(pick, 0, std::max<int64_t>(in_len - 1, 0));
      continue;
    }
    std::vector<double> c = coeffs(o, ratio, scale);
    int n = static_cast<int>(c.size());
    if (i == 0) {
      m.taps = n;
      m.idx.resize(out_len * n);
      m.w.resize(out_len * n);
    }
    int64_t base = static_cast<int64_t>(x_int) - n / 2 + 1;
    if (o.exclude_outside) {
      double sum = 0;
      for (int t = 0; t < n; ++t) {
        int64_t p = base + t;
        if (p < 0 || p >= in_len) c[t] = 0;
        sum += c[t];
      }
      if (sum != 0)
        for (auto& v : c) v /= sum;
    }
    for (int t = 0; t < n; ++t) {
      m.idx[i * n + t] = std::clamp<int64_t>(base + t, 0, std::max<int64_t>(in_len - 1, 0));
      m.w[i * n + t] = static_cast<float>(c[t]);
    }
  }
  return m;
}

template <class T>
T from_float(float v) {
  if constexpr (std::is_integral_v<T>) {
    float r = std::nearbyint(v);
    r = std::min(r, static_cast<float>(std::numeric_limits<T>::max()));
    r = std::max(r, static_cast<float>(std::numeric_limits<T>::lowest()));
    return static_cast<T>(r);
  } else {
    return convert<T>(v);
  }
}

void run_resize(KernelContext& ctx, const ResizeOpts& o, const std::vector<double>& scales,
                const std::vector<double>& roi) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Shape& is = x.shape();
  const Shape& os = y.shape();
  int r = x.rank();
  if (y.numel() == 0) return;
  R1_CHECK(x.numel() > 0, InputError) << "Resize of an empty tensor to a non-empty one";
  std::vector<AxisMap> maps(r);
  for (int a = 0; a < r; ++a) {
    double r0 = roi.empty() ? 0.0 : roi[a], r1 = roi.empty() ? 1.0 : roi[r + a];
    maps[a] = axis_map(o, is[a], os[a], scales[a], r0, r1);
  }
  ThreadPool& pool = ctx.pool();
  int64_t last_out = r ? os[r - 1] : 1;
  int64_t rows = last_out ? y.numel() / last_out : 0;
  std::vector<int64_t> in_strides = contiguous_strides(is);
  if (o.mode == Mode::Nearest) {
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* px = x.data<T>();
      T* py = y.data<T>();
      const AxisMap& lm = maps[r - 1];
      pool.parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(last_out, 1)),
                        [&](int64_t b, int64_t e) {
                          for (int64_t row = b; row < e; ++row) {
                            int64_t rem = row, off = 0;
                            for (int a = r - 2; a >= 0; --a) {
                              int64_t oi = rem % os[a];
                              rem /= os[a];
                              off += maps[a].idx[oi] * in_strides[a];
                            }
                            const T* src = px + off;
                            T* dst = py + row * last_out;
                            for (int64_t j = 0; j < last_out; ++j) dst[j] = src[lm.idx[j]];
                          }
                        });
    });
  } else {
    FloatIn fx = float_input(x, pool);
    std::vector<int> order;
    for (int a = 0; a < r; ++a)
      if (!maps[a].identity) order.push_back(a);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return static_cast<double>(os[a]) / is[a] < static_cast<double>(os[b]) / is[b];
    });
    Shape cur = is;
    const float* src = fx.p;
    std::vector<float> bufs[2];
    int which = 0;
    FloatOut fy;
    fy.init(y);
    bool y_is_float = y.dtype() == DType::Float32;
    for (size_t step = 0; step < order.size(); ++step) {
      int a = order[step];
      const AxisMap& m = maps[a];
      int64_t outer = 1, inner = 1;
      for (int i = 0; i < a; ++i) outer *= cur[i];
      for (int i = a + 1; i < r; ++i) inner *= cur[i];
      int64_t L_in = cur[a], L_out = os[a];
      float* dst;
      bool last = step + 1 == order.size();
      if (last && y_is_float) {
        dst = fy.p;
      } else if (last) {
        dst = fy.p;
      } else {
        bufs[which].resize(outer * L_out * inner);
        dst = bufs[which].data();
      }
      int taps = m.taps;
      if (inner == 1) {
        pool.parallel_for(0, outer, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(L_out * taps, 1)),
                          [&](int64_t b, int64_t e) {
                            for (int64_t oo = b; oo < e; ++oo) {
                              const float* s = src + oo * L_in;
                              float* d = dst + oo * L_out;
                              for (int64_t i = 0; i < L_out; ++i) {
                                float acc = 0.f;
                                for (int t = 0; t < taps; ++t) acc += m.w[i * taps + t] * s[m.idx[i * taps + t]];
                                d[i] = acc;
                              }
                            }
                          });
      } else {
        pool.parallel_for(0, outer * L_out,
                          std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(inner * taps, 1)),
                          [&](int64_t b, int64_t e) {
                            for (int64_t rr = b; rr < e; ++rr) {
                              int64_t oo = rr / L_out, i = rr % L_out;
                              float* d = dst + rr * inner;
                              for (int t = 0; t < taps; ++t) {
                                float w = m.w[i * taps + t];
                                const float* s = src + (oo * L_in + m.idx[i * taps + t]) * inner;
                                if (t == 0)
                                  for (int64_t j = 0; j < inner; ++j) d[j] = w * s[j];
                                else
                                  for (int64_t j = 0; j < inner; ++j) d[j] += w * s[j];
                              }
                            }
                          });
      }
      cur[a] = L_out;
      src = dst;
      which ^= 1;
    }
    if (order.empty()) std::copy(fx.p, fx.p + x.numel(), fy.p);
    // Extrapolation for tf_crop_and_resize.
    bool any_oob = false;
    for (auto& m : maps) any_oob = any_oob || m.any_oob;
    if (any_oob) {
      float ev = o.extrapolation;
      float* py = fy.p;
      pool.parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(last_out, 1)),
                        [&](int64_t b, int64_t e) {
                          for (int64_t row = b; row < e; ++row) {
                            int64_t rem = row;
                            bool row_oob = false;
                            for (int a = r - 2; a >= 0; --a) {
                              int64_t oi = rem % os[a];
                              rem /= os[a];
                              row_oob = row_oob || maps[a].oob[oi];
                            }
                            float* d = py + row * last_out;
                            for (int64_t j = 0; j < last_out; ++j)
                              if (row_oob || maps[r - 1].oob[j]) d[j] = ev;
                          }
                        });
    }
    if (is_float(y.dtype())) {
      fy.finish(pool);
    } else {
      dispatch_numeric(y.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* py = y.data<T>();
        const float* s = fy.p;
        for (int64_t i = 0; i < y.numel(); ++i) py[i] = from_float<T>(s[i]);
      });
    }
  }
}

ResizeOpts parse_opts(const AttributeMap& a, int opset, bool upsample) {
  ResizeOpts o;
  std::string mode = a.get_string("mode", "nearest");
  if (mode == "nearest")
    o.mode = Mode::Nearest;
  else if (mode == "linear" || (upsample && mode == "bilinear"))
    o.mode = Mode::Linear;
  else if (mode == "cubic" && !upsample)
    o.mode = Mode::Cubic;
  else
    R1_THROW(ModelError) << "Resize mode '" << mode << "' is not supported";
  if (upsample || opset < 11) {
    o.ctm = Ctm::Asymmetric;
    o.nearest = NearestMode::Legacy;
    return o;
  }
  std::string ctm = a.get_string("coordinate_transformation_mode", "half_pixel");
  if (ctm == "half_pixel")
    o.ctm = Ctm::HalfPixel;
  else if (ctm == "half_pixel_symmetric")
    o.ctm = Ctm::HalfPixelSymmetric;
  else if (ctm == "pytorch_half_pixel")
    o.ctm = Ctm::PytorchHalfPixel;
  else if (ctm == "align_corners")
    o.ctm = Ctm::AlignCorners;
  else if (ctm == "asymmetric")
    o.ctm = Ctm::Asymmetric;
  else if (ctm == "tf_half_pixel_for_nn")
    o.ctm = Ctm::TfHalfPixelForNN;
  else if (ctm == "tf_crop_and_resize")
    o.ctm = Ctm::TfCropAndResize;
  else
    R1_THROW(ModelError) << "coordinate_transformation_mode '" << ctm << "' is not supported";
  std::string nm = a.get_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor")
    o.nearest = NearestMode::RoundPreferFloor;
  else if (nm == "round_prefer_ceil")
    o.nearest = NearestMode::RoundPreferCeil;
  else if (nm == "floor")
    o.nearest = NearestMode::Floor;
  else if (nm == "ceil")
    o.nearest = NearestMode::Ceil;
  else
    R1_THROW(ModelError) << "nearest_mode '" << nm << "' is not supported";
  o.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
  o.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  o.extrapolation = a.get_float("extrapolation_value", 0.f);
  o.antialias = opset >= 18 && a.get_int("antialias", 0) != 0;
  return o;
}

void resize(KernelContext& ctx) {
  int opset = ctx.opset();
  ResizeOpts o = parse_opts(ctx.attrs(), opset, false);
  const Tensor& x = ctx.input(0);
  int r = x.rank();
  size_t si = opset < 11 ? 1 : 2, zi = 3;
  bool has_sizes = opset >= 11 && ctx.has_input(zi);
  std::vector<double> scales;
  Shape out;
  conv_geom::resize_shape(ctx.attrs(), opset, x.shape(), ctx.has_input(si),
                          ctx.has_input(si) ? &ctx.input(si) : nullptr, has_sizes, has_sizes ? &ctx.input(zi) : nullptr,
                          &scales, &out);
  std::vector<double> roi;
  if (o.ctm == Ctm::TfCropAndResize) {
    R1_CHECK(ctx.has_input(1) && ctx.input(1).numel() > 0, InputError) << "tf_crop_and_resize needs a roi input";
    const Tensor& rt = ctx.input(1);
    std::vector<double> rv(rt.numel());
    for (int64_t i = 0; i < rt.numel(); ++i) rv[i] = rt.scalar_as_double(i);
    std::vector<int64_t> axes = opset >= 18 ? ctx.attrs().get_ints("axes") : std::vector<int64_t>{};
    roi.assign(2 * r, 0.0);
    for (int a = 0; a < r; ++a) roi[r + a] = 1.0;
    if (axes.empty()) {
      R1_CHECK(static_cast<int>(rv.size()) == 2 * r, InputError) << "roi must have 2 * rank values";
      roi = rv;
    } else {
      int na = static_cast<int>(axes.size());
      R1_CHECK(static_cast<int>(rv.size()) == 2 * na, InputError) << "roi must have 2 * len(axes) values";
      for (int j = 0; j < na; ++j) {
        int ax = normalize_axis(axes[j], r, "Resize axes");
        roi[ax] = rv[j];
        roi[r + ax] = rv[na + j];
      }
    }
  }
  run_resize(ctx, o, scales, roi);
}

void upsample(KernelContext& ctx) {
  ResizeOpts o = parse_opts(ctx.attrs(), ctx.opset(), true);
  const Tensor& x = ctx.input(0);
  std::vector<double> scales;
  Shape out;
  if (ctx.opset() < 9) {
    std::vector<float> sc = ctx.attrs().get_floats("scales");
    Tensor st = Tensor::empty(DType::Float32, {static_cast<int64_t>(sc.size())});
    for (size_t i = 0; i < sc.size(); ++i) st.data<float>()[i] = sc[i];
    conv_geom::resize_shape(AttributeMap(), 10, x.shape(), true, &st, false, nullptr, &scales, &out);
  } else {
    conv_geom::resize_shape(AttributeMap(), 10, x.shape(), true, &ctx.input(1), false, nullptr, &scales, &out);
  }
  run_resize(ctx, o, scales, {});
}

}  // namespace

void register_resize_kernels(KernelTable& t) {
  t.add("Resize", resize);
  t.add("Upsample", upsample);
}
}  // namespace r1::cpu
