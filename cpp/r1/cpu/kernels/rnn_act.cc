// The activation functions of RNN, GRU and LSTM (rnn_kernels.h), applied in place to gate rows.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "r1/cpu/kernels/elementwise_math.h"
#include "r1/cpu/kernels/rnn_kernels.h"

namespace r1::cpu {
namespace {

// Sigmoid and Tanh are the hot ones: branch-free float code that the compiler vectorizes (the
// clamps sit in their own loops, which GCC otherwise refuses to if-convert). Sigmoid uses a
// Cephes-style exp (~1 ulp); Tanh the rational approximation used by Eigen and MLAS (~3e-7 rel).

inline float clampf(float v, float lo, float hi) {
  v = v > hi ? hi : v;
  v = v < lo ? lo : v;
  return v;
}

R1_RNN_CLONES void sigmoid_inplace(float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], -87.0f, 87.0f);
  for (int64_t i = 0; i < n; ++i) x[i] = 1.f / (1.f + ew::vexp(-x[i]));
}

R1_RNN_CLONES void tanh_inplace(float* __restrict x, int64_t n) {
  constexpr float c = 7.90531110763549805f;
  for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], -c, c);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    float x2 = v * v;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    x[i] = v * p / q;
  }
}

}  // namespace

void Act::apply(float* __restrict x, int64_t n) const {
  switch (kind) {
    case ActKind::Sigmoid:
      sigmoid_inplace(x, n);
      break;
    case ActKind::Tanh:
      tanh_inplace(x, n);
      break;
    case ActKind::Relu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
      break;
    case ActKind::HardSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i] + beta;
      for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], 0.f, 1.f);
      break;
    case ActKind::Affine:
      for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i] + beta;
      break;
    case ActKind::LeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.f ? x[i] : alpha * x[i];
      break;
    case ActKind::ThresholdedRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > alpha ? x[i] : 0.f;
      break;
    case ActKind::ScaledTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = beta * x[i];
      tanh_inplace(x, n);
      for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i];
      break;
    case ActKind::Elu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.f ? x[i] : alpha * std::expm1(x[i]);
      break;
    case ActKind::Softsign:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::fabs(x[i]));
      break;
    case ActKind::Softplus:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 20.f ? x[i] : std::log1p(std::exp(x[i]));
      break;
  }
}

// Builds the activation list of every direction. alpha/beta values are consumed in order by the
// activations that take them (as onnxruntime does); missing ones take the ONNX op defaults.
std::vector<Act> parse_activations(const AttributeMap& a, int per_dir, int dirs, const std::vector<std::string>& defs) {
  std::vector<std::string> names = a.get_strings("activations");
  if (names.empty()) names = defs;
  if (static_cast<int>(names.size()) == per_dir && dirs == 2) {
    std::vector<std::string> twice = names;
    twice.insert(twice.end(), names.begin(), names.end());
    names = twice;
  }
  R1_CHECK(static_cast<int>(names.size()) == per_dir * dirs, ModelError)
      << "activations has " << names.size() << " entries; expected " << per_dir * dirs;
  std::vector<float> alphas = a.get_floats("activation_alpha");
  std::vector<float> betas = a.get_floats("activation_beta");
  size_t ia = 0, ib = 0;
  auto next_alpha = [&](float def) { return ia < alphas.size() ? alphas[ia++] : def; };
  auto next_beta = [&](float def) { return ib < betas.size() ? betas[ib++] : def; };
  std::vector<Act> out;
  for (std::string n : names) {
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    Act act;
    if (n == "sigmoid")
      act.kind = ActKind::Sigmoid;
    else if (n == "tanh")
      act.kind = ActKind::Tanh;
    else if (n == "relu")
      act.kind = ActKind::Relu;
    else if (n == "hardsigmoid") {
      act.kind = ActKind::HardSigmoid;
      act.alpha = next_alpha(0.2f);
      act.beta = next_beta(0.5f);
    } else if (n == "affine") {
      act.kind = ActKind::Affine;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(0.f);
    } else if (n == "leakyrelu") {
      act.kind = ActKind::LeakyRelu;
      act.alpha = next_alpha(0.01f);
    } else if (n == "thresholdedrelu") {
      act.kind = ActKind::ThresholdedRelu;
      act.alpha = next_alpha(1.f);
    } else if (n == "scaledtanh") {
      act.kind = ActKind::ScaledTanh;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(1.f);
    } else if (n == "elu") {
      act.kind = ActKind::Elu;
      act.alpha = next_alpha(1.f);
    } else if (n == "softsign")
      act.kind = ActKind::Softsign;
    else if (n == "softplus")
      act.kind = ActKind::Softplus;
    else
      R1_THROW(ModelError) << "activation '" << n << "' is not supported";
    out.push_back(act);
  }
  return out;
}

}  // namespace r1::cpu
