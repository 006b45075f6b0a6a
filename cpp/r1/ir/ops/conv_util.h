// Geometry shared by the shape inference of Conv, ConvTranspose, the pools, Resize and r1::FusedConv
// (ir/ops/conv.cc, conv_transpose.cc, pool.cc, resize.cc, fused_conv.cc) and their CPU and GPU kernels:
// output sizes and effective pads of Conv / pools (forward) and ConvTranspose, and Resize's
// output size / scale computation. Header-only so that IR and kernels use one definition.
//
//   conv_geom::Geom g = conv_geom::forward(node.attrs, in_spatial, kernel, /*pool=*/true);
//   g.out[i], g.pb[i], g.pe[i]
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "r1/core/shape.h"
#include "r1/core/tensor.h"
#include "r1/ir/attribute.h"

namespace r1::conv_geom {

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

inline AutoPad parse_auto_pad(const AttributeMap& a) {
  std::string s = a.get_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::NotSet;
  if (s == "SAME_UPPER") return AutoPad::SameUpper;
  if (s == "SAME_LOWER") return AutoPad::SameLower;
  if (s == "VALID") return AutoPad::Valid;
  R1_THROW(ModelError) << "auto_pad '" << s << "' is not supported";
}

inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

inline std::vector<int64_t> ints_or(const AttributeMap& a, const char* name, int nd, int64_t def) {
  std::vector<int64_t> v = a.get_ints(name);
  if (v.empty()) return std::vector<int64_t>(nd, def);
  R1_CHECK(static_cast<int>(v.size()) == nd, ModelError)
      << "attribute '" << name << "' has " << v.size() << " values, expected " << nd;
  return v;
}

struct Geom {
  int nd = 0;
  std::vector<int64_t> in, k, s, d, pb, pe, out;
};

// Conv and pooling output geometry. `in` may contain unknown/symbolic dims (then the output dim
// is kUnknownDim). ceil_mode is read only for pools.
inline Geom forward(const AttributeMap& a, const Shape& in, const std::vector<int64_t>& k, bool pool) {
  Geom g;
  g.nd = static_cast<int>(in.size());
  int nd = g.nd;
  g.in = in;
  g.k = k;
  R1_CHECK(static_cast<int>(k.size()) == nd, ModelError)
      << "kernel has " << k.size() << " spatial dims but the input has " << nd;
  g.s = ints_or(a, "strides", nd, 1);
  g.d = ints_or(a, "dilations", nd, 1);
  std::vector<int64_t> pads = a.get_ints("pads");
  if (pads.empty()) pads.assign(2 * nd, 0);
  R1_CHECK(static_cast<int>(pads.size()) == 2 * nd, ModelError)
      << "attribute 'pads' has " << pads.size() << " values, expected " << 2 * nd;
  bool ceil_mode = pool && a.get_int("ceil_mode", 0) != 0;
  AutoPad ap = parse_auto_pad(a);
  g.pb.assign(nd, 0);
  g.pe.assign(nd, 0);
  g.out.assign(nd, kUnknownDim);
  for (int i = 0; i < nd; ++i) {
    R1_CHECK(g.s[i] > 0 && g.d[i] > 0, ModelError) << "strides and dilations must be positive";
    R1_CHECK(pads[i] >= 0 && pads[nd + i] >= 0, ModelError) << "pads must be non-negative";
    if (is_known(k[i])) {
      R1_CHECK(k[i] > 0, ModelError) << "kernel dims must be positive";
    }
    if (!is_known(in[i]) || !is_known(k[i])) continue;
    int64_t ek = (k[i] - 1) * g.d[i] + 1;
    if (ap == AutoPad::NotSet) {
      g.pb[i] = pads[i];
      g.pe[i] = pads[nd + i];
      int64_t num = in[i] + g.pb[i] + g.pe[i] - ek;
      R1_CHECK(num >= 0, InputError) << "spatial dim " << i << " of size " << in[i] << " (padded "
                                     << in[i] + g.pb[i] + g.pe[i] << ") is smaller than the kernel extent " << ek;
      int64_t o = (ceil_mode ? ceil_div(num, g.s[i]) : floor_div(num, g.s[i])) + 1;
      if (ceil_mode && (o - 1) * g.s[i] >= in[i] + g.pb[i]) --o;
      g.out[i] = o;
    } else if (ap == AutoPad::Valid) {
      int64_t num = in[i] - ek;
      R1_CHECK(num >= 0, InputError) << "spatial dim " << i << " of size " << in[i]
                                     << " is smaller than the kernel extent " << ek;
      g.out[i] = floor_div(num, g.s[i]) + 1;
    } else {
      int64_t o = ceil_div(in[i], g.s[i]);
      int64_t total = std::max<int64_t>(0, (o - 1) * g.s[i] + ek - in[i]);
      if (ap == AutoPad::SameUpper) {
        g.pb[i] = total / 2;
        g.pe[i] = total - total / 2;
      } else {
        g.pe[i] = total / 2;
        g.pb[i] = total - total / 2;
      }
      g.out[i] = o;
    }
  }
  return g;
}

// ConvTranspose geometry (follows the ONNX reference implementation).
inline Geom transpose(const AttributeMap& a, const Shape& in, const std::vector<int64_t>& k) {
  Geom g;
  g.nd = static_cast<int>(in.size());
  int nd = g.nd;
  g.in = in;
  g.k = k;
  R1_CHECK(static_cast<int>(k.size()) == nd, ModelError)
      << "kernel has " << k.size() << " spatial dims but the input has " << nd;
  g.s = ints_or(a, "strides", nd, 1);
  g.d = ints_or(a, "dilations", nd, 1);
  std::vector<int64_t> op = ints_or(a, "output_padding", nd, 0);
  std::vector<int64_t> os = a.get_ints("output_shape");
  bool has_os = !os.empty();
  if (has_os) {
    R1_CHECK(static_cast<int>(os.size()) >= nd, ModelError)
        << "output_shape has " << os.size() << " values, expected " << nd;
    os.erase(os.begin(), os.end() - nd);
  }
  bool has_pads = a.has("pads");
  std::vector<int64_t> pads = a.get_ints("pads");
  if (pads.empty()) pads.assign(2 * nd, 0);
  R1_CHECK(static_cast<int>(pads.size()) == 2 * nd, ModelError)
      << "attribute 'pads' has " << pads.size() << " values, expected " << 2 * nd;
  AutoPad ap = parse_auto_pad(a);
  g.pb.assign(nd, 0);
  g.pe.assign(nd, 0);
  g.out.assign(nd, kUnknownDim);
  for (int i = 0; i < nd; ++i) {
    R1_CHECK(g.s[i] > 0 && g.d[i] > 0, ModelError) << "strides and dilations must be positive";
    if (!is_known(in[i]) || !is_known(k[i])) {
      if (has_os) g.out[i] = os[i];
      continue;
    }
    int64_t ek = (k[i] - 1) * g.d[i] + 1;
    if (!has_pads && (ap == AutoPad::SameUpper || ap == AutoPad::SameLower)) {
      int64_t o = has_os ? os[i] : in[i] * g.s[i];
      int64_t total = g.s[i] * (in[i] - 1) + op[i] + ek - o;
      if (ap == AutoPad::SameUpper) {
        g.pb[i] = floor_div(total, 2);
        g.pe[i] = total - g.pb[i];
      } else {
        g.pe[i] = floor_div(total, 2);
        g.pb[i] = total - g.pe[i];
      }
      g.out[i] = o;
    } else {
      if (ap != AutoPad::Valid) {
        g.pb[i] = pads[i];
        g.pe[i] = pads[nd + i];
      }
      g.out[i] = has_os ? os[i] : g.s[i] * (in[i] - 1) + op[i] + ek - g.pb[i] - g.pe[i];
    }
    R1_CHECK(g.out[i] >= 0, InputError) << "ConvTranspose output dim " << i << " would be negative";
  }
  return g;
}

// Resize / Upsample output shape and per-axis scales. scales_t / sizes_t: the input tensors
// (nullptr when absent or unknown); *_present: the input is wired. Returns false when the output
// shape cannot be computed yet (inputs unknown at compile time); `out` then has unknown dims.
inline bool resize_shape(const AttributeMap& a, int opset, const Shape& in, bool scales_present, const Tensor* scales_t,
                         bool sizes_present, const Tensor* sizes_t, std::vector<double>* scales_out, Shape* out) {
  int r = static_cast<int>(in.size());
  out->assign(r, kUnknownDim);
  scales_out->assign(r, 1.0);
  std::vector<int64_t> axes;
  if (opset >= 18) axes = a.get_ints("axes");
  if (axes.empty()) {
    for (int i = 0; i < r; ++i) axes.push_back(i);
  } else {
    for (auto& ax : axes) ax = normalize_axis(ax, r, "Resize axes");
  }
  std::vector<bool> on_axis(r, false);
  for (int64_t ax : axes) on_axis[ax] = true;
  for (int i = 0; i < r; ++i)
    if (!on_axis[i]) (*out)[i] = in[i];
  bool use_sizes = false;
  if (sizes_present) {
    if (!sizes_t) return false;
    use_sizes = sizes_t->numel() > 0;
  }
  if (use_sizes) {
    std::vector<int64_t> sz = sizes_t->to_int64_vector();
    R1_CHECK(sz.size() == axes.size(), InputError)
        << "Resize sizes has " << sz.size() << " values, expected " << axes.size();
    for (int64_t v : sz) R1_CHECK(v >= 0, InputError) << "Resize sizes must be non-negative";
    std::string policy = opset >= 18 ? a.get_string("keep_aspect_ratio_policy", "stretch") : "stretch";
    if (policy == "stretch") {
      bool ok = true;
      for (size_t j = 0; j < axes.size(); ++j) {
        (*out)[axes[j]] = sz[j];
        if (is_known(in[axes[j]]) && in[axes[j]] > 0)
          (*scales_out)[axes[j]] = static_cast<double>(sz[j]) / static_cast<double>(in[axes[j]]);
        else
          ok = false;
      }
      (void)ok;
      return true;
    }
    R1_CHECK(policy == "not_larger" || policy == "not_smaller", ModelError)
        << "keep_aspect_ratio_policy '" << policy << "' is not supported";
    double scale = policy == "not_larger" ? 1e300 : -1e300;
    for (size_t j = 0; j < axes.size(); ++j) {
      if (!is_known(in[axes[j]])) return false;
      R1_CHECK(in[axes[j]] > 0, InputError) << "Resize of an empty dim with keep_aspect_ratio_policy";
      double s = static_cast<double>(sz[j]) / static_cast<double>(in[axes[j]]);
      scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
    }
    for (int64_t ax : axes) {
      (*scales_out)[ax] = scale;
      (*out)[ax] = static_cast<int64_t>(scale * static_cast<double>(in[ax]) + 0.5);
    }
    return true;
  }
  if (!scales_present) R1_THROW(ModelError) << "Resize needs a scales or sizes input";
  if (!scales_t) return false;
  R1_CHECK(scales_t->numel() > 0, ModelError) << "Resize needs non-empty scales or sizes";
  R1_CHECK(static_cast<size_t>(scales_t->numel()) == axes.size(), InputError)
      << "Resize scales has " << scales_t->numel() << " values, expected " << axes.size();
  for (size_t j = 0; j < axes.size(); ++j) {
    double s = static_cast<float>(scales_t->scalar_as_double(static_cast<int64_t>(j)));
    R1_CHECK(s > 0, InputError) << "Resize scales must be positive, got " << s;
    (*scales_out)[axes[j]] = s;
    int64_t d = in[axes[j]];
    if (is_known(d))
      (*out)[axes[j]] = static_cast<int64_t>(std::floor(s * static_cast<double>(d)));
    else if (s == 1.0)
      (*out)[axes[j]] = d;
  }
  return true;
}

}  // namespace r1::conv_geom
