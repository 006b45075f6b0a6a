// The epilogue of the GPU convolutions: the activations of r1::FusedConv applied to the fp32 accumulators
// before the only store (conv.cu), with the CPU's formulas and defaults.
#pragma once
#include <cmath>
#include <string>

#include "elementwise.cuh"

namespace r1::gpu {

// The activations of FusedConv, numbered as the CPU's ConvAct (conv_kernels.h).
enum ConvActKind : int {
  kActNone,
  kActRelu,
  kActLeakyRelu,
  kActClip,
  kActHardSigmoid,
  kActHardSwish,
  kActSigmoid,
  kActSilu,
  kActTanh,
  kActGelu,
  kActGeluTanh
};

struct ActParams {
  int kind = kActNone;
  float alpha = 0.f, beta = 0.f;
};

// std::max / std::min as the CPU evaluates them: a NaN first operand is returned (fmaxf / fminf would
// drop it and clamp NaN to a bound).
__device__ __forceinline__ float std_max(float a, float b) { return a < b ? b : a; }
__device__ __forceinline__ float std_min(float a, float b) { return b < a ? b : a; }

// The CPU's act_ref (conv_depthwise.cc), in float.
__device__ __forceinline__ float apply_act(float v, const ActParams& a) {
  switch (a.kind) {
    case kActRelu:
      return v > 0.f ? v : 0.f;
    case kActLeakyRelu:
      return v < 0.f ? v * a.alpha : v;
    case kActClip:
      return std_min(std_max(v, a.alpha), a.beta);
    case kActHardSigmoid:
      return std_min(std_max(v * a.alpha + a.beta, 0.f), 1.f);
    case kActHardSwish:
      return v * std_min(std_max(v / 6.f + 0.5f, 0.f), 1.f);
    case kActSigmoid:
      return 1.f / (1.f + expf(-v));
    case kActSilu:
      return v / (1.f + expf(-v));
    case kActTanh:
      return tanhf(v);
    case kActGelu:
      return 0.5f * v * (1.f + erff(v * 0.70710678f));
    case kActGeluTanh:
      return 0.5f * v * (1.f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    default:
      return v;
  }
}

// Parses activation / act_alpha / act_beta like the CPU's parse_conv_activation (same defaults).
inline ActParams parse_activation(const AttributeMap& attrs) {
  const std::string act = attrs.get_string("activation", "");
  struct Known {
    const char* name;
    int kind;
    float alpha, beta;
  };
  static const Known kKnown[] = {
      {"", kActNone, 0.f, 0.f},
      {"Relu", kActRelu, 0.f, 0.f},
      {"LeakyRelu", kActLeakyRelu, 0.01f, 0.f},
      {"Clip", kActClip, -INFINITY, INFINITY},
      {"HardSigmoid", kActHardSigmoid, 0.2f, 0.5f},
      {"HardSwish", kActHardSwish, 0.f, 0.f},
      {"Sigmoid", kActSigmoid, 0.f, 0.f},
      {"Silu", kActSilu, 0.f, 0.f},
      {"Tanh", kActTanh, 0.f, 0.f},
      {"Gelu", kActGelu, 0.f, 0.f},
      {"GeluTanh", kActGeluTanh, 0.f, 0.f},
  };
  for (const Known& k : kKnown) {
    if (act != k.name) continue;
    ActParams p;
    p.kind = k.kind;
    p.alpha = attrs.has("act_alpha") ? attrs.get_float("act_alpha", k.alpha) : k.alpha;
    p.beta = attrs.has("act_beta") ? attrs.get_float("act_beta", k.beta) : k.beta;
    return p;
  }
  R1_THROW(ModelError) << "FusedConv activation '" << act << "' is not supported";
  return ActParams{};
}

}  // namespace r1::gpu
