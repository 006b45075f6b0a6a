// Depthwise convolution (one input channel per group, any channel multiplier), the portable
// epilogue, and the attribute parsing shared by Conv and r1::FusedConv. Each (image, output channel)
// plane is a task; with AVX-512 a plane is computed 16 output columns at a time from a padded copy,
// with the epilogue in registers (conv_dw_avx512.cc), otherwise by the loop below and a pass per row.
#include <algorithm>
#include <cmath>
#include <limits>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/conv_kernels.h"

namespace r1::cpu {
namespace {

// One output plane, no epilogue (cloned for AVX2 so the width loop uses 8-wide FMAs where it can).
__attribute__((target_clones("avx2", "default"))) void depthwise_plane_ref(const float* xc, const float* wk, float* yp,
                                                                           const Plane2d& q) {
  for (int64_t oh = 0; oh < q.OH; ++oh) {
    float* yr = yp + oh * q.OW;
    for (int64_t ow = 0; ow < q.OW; ++ow) yr[ow] = 0.f;
    for (int64_t kh = 0; kh < q.KH; ++kh) {
      int64_t ih = oh * q.sh - q.ph + kh * q.dh;
      if (ih < 0 || ih >= q.H) continue;
      const float* xr = xc + ih * q.W;
      for (int64_t kw = 0; kw < q.KW; ++kw) {
        float w = wk[kh * q.KW + kw];
        int64_t off = kw * q.dw - q.pw;
        int64_t lo = std::max<int64_t>(0, conv_geom::ceil_div(-off, q.sw));
        int64_t hi = std::min<int64_t>(q.OW, conv_geom::floor_div(q.W - 1 - off, q.sw) + 1);
        if (q.sw == 1) {
          const float* xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += w * xs[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += w * xr[ow * q.sw + off];
        }
      }
    }
  }
}

float act_ref(float v, const ConvEpilogue& ep) {
  switch (ep.act) {
    case ConvAct::kNone:
      return v;
    case ConvAct::kRelu:
      return v > 0.f ? v : 0.f;
    case ConvAct::kLeakyRelu:
      return v < 0.f ? v * ep.alpha : v;
    case ConvAct::kClip:
      return std::min(std::max(v, ep.alpha), ep.beta);
    case ConvAct::kHardSigmoid:
      return std::min(std::max(v * ep.alpha + ep.beta, 0.f), 1.f);
    case ConvAct::kHardSwish:
      return v * std::min(std::max(v / 6.f + 0.5f, 0.f), 1.f);
    case ConvAct::kSigmoid:
      return 1.f / (1.f + std::exp(-v));
    case ConvAct::kSilu:
      return v / (1.f + std::exp(-v));
    case ConvAct::kTanh:
      return std::tanh(v);
    case ConvAct::kGelu:
      return 0.5f * v * (1.f + std::erf(v * 0.70710678f));
    case ConvAct::kGeluTanh:
      return 0.5f * v * (1.f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
  }
  return v;
}

}  // namespace

void epilogue_row_ref(float* y, int64_t n, float b, const float* r, const ConvEpilogue& ep) {
  for (int64_t j = 0; j < n; ++j) y[j] = act_ref(y[j] + b + (r ? r[j] : 0.f), ep);
}

void conv_depthwise(const ConvArgs& a, const Plane2d& q, ThreadPool& pool) {
  const bool avx = cpu_features().has_avx512_kernels();
  int64_t mult = a.m / a.c, planes = a.n * a.m, IS = q.H * q.W, OS = q.OH * q.OW, KS = q.KH * q.KW;
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(OS * KS, 1));
  int64_t scratch_floats = avx ? conv_avx512::plane_scratch_floats(q) : 0;
  pool.parallel_for(0, planes, grain, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scratch;  // kept: a plane-sized buffer per call costs page faults
    if (scratch.size() < static_cast<size_t>(scratch_floats)) scratch.resize(static_cast<size_t>(scratch_floats));
    for (int64_t pl = b; pl < e; ++pl) {
      int64_t n = pl / a.m, m = pl % a.m, c = m / mult;
      const float* xc = a.x + (n * a.c + c) * IS;
      const float* wk = a.w + m * KS;
      float bias = a.ep.bias ? a.ep.bias[m] : 0.f;
      const float* r = a.residual ? a.residual + pl * OS : nullptr;
      float* y = a.y + pl * OS;
      if (avx) {
        conv_avx512::depthwise_plane(xc, wk, bias, r, y, q, a.ep, scratch.data());
      } else {
        depthwise_plane_ref(xc, wk, y, q);
        epilogue_row_ref(y, OS, bias, r, a.ep);
      }
    }
  });
}

void parse_conv_activation(const AttributeMap& attrs, ConvEpilogue* ep) {
  std::string act = attrs.get_string("activation", "");
  // Defaults are those of the ONNX op of the same name, for graphs that leave act_alpha/beta out.
  struct Known {
    const char* name;
    ConvAct act;
    float alpha, beta;
  };
  static const Known kKnown[] = {
      {"", ConvAct::kNone, 0.f, 0.f},
      {"Relu", ConvAct::kRelu, 0.f, 0.f},
      {"LeakyRelu", ConvAct::kLeakyRelu, 0.01f, 0.f},
      {"Clip", ConvAct::kClip, -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()},
      {"HardSigmoid", ConvAct::kHardSigmoid, 0.2f, 0.5f},
      {"HardSwish", ConvAct::kHardSwish, 0.f, 0.f},
      {"Sigmoid", ConvAct::kSigmoid, 0.f, 0.f},
      {"Silu", ConvAct::kSilu, 0.f, 0.f},
      {"Tanh", ConvAct::kTanh, 0.f, 0.f},
      {"Gelu", ConvAct::kGelu, 0.f, 0.f},
      {"GeluTanh", ConvAct::kGeluTanh, 0.f, 0.f},
  };
  for (const Known& k : kKnown) {
    if (act != k.name) continue;
    ep->act = k.act;
    ep->alpha = attrs.has("act_alpha") ? attrs.get_float("act_alpha", k.alpha) : k.alpha;
    ep->beta = attrs.has("act_beta") ? attrs.get_float("act_beta", k.beta) : k.beta;
    return;
  }
  R1_THROW(ModelError) << "FusedConv activation '" << act << "' is not supported";
}

std::vector<int64_t> conv_kernel_dims(const KernelContext& ctx, const Shape& ws) {
  std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(ws.begin() + 2, ws.end());
  R1_CHECK(k.size() + 2 == ws.size(), InputError)
      << "kernel_shape has " << k.size() << " dims, the weight " << ws.size() - 2;
  for (size_t i = 0; i < k.size(); ++i)
    R1_CHECK(k[i] == ws[2 + i], InputError) << "kernel_shape does not match the weight shape";
  return k;
}

}  // namespace r1::cpu
