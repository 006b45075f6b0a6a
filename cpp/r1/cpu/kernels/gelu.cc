// CPU kernels of GELU: the ONNX Gelu and r1::Gelu share gelu_kernel. The AVX-512 erf/tanh forms of
// act_avx512.cc (0.5 x erfc(-x/sqrt 2) for negative x, so no cancellation), the branch-free scalar ew::
// math elsewhere. 16-bit float tensors are staged through fp32.
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <algorithm>
#include <string>
#include <type_traits>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

bool use_avx512() {
  static const bool v = cpu_features().has_avx512_kernels();
  return v;
}

// Portable GELU with the formulas of act_avx512.cc (erfc form; x / (1 + exp(-2u)) for tanh), so both
// paths agree to a few ulp. Branch-free and libm-free: the loop vectorizes. The extra precision the
// AVX-512 code gets from fma splits comes from double here.
inline float clamp_finite(float x) { return ew::vmax(ew::vmin(x, 3.40282347e38f), -3.40282347e38f); }

inline float gelu_erf_scalar(float x) {
  const double z = static_cast<double>(x) * 0.70710678118654752440;
  const double az = z < 0 ? -z : z;
  const double azc = az < 10.0546875 ? az : 10.0546875;  // erfc underflows beyond: forced to 0 below
  const float t = static_cast<float>(azc);
  const float q = (t - 2.0f) / (t + 2.0f);
  float p = 8.108527981676161e-05f;
  p = p * q + 0.00017233700782526284f;
  p = p * q - 0.0004015479062218219f;
  p = p * q - 0.0014242675388231874f;
  p = p * q + 0.0012522718170657754f;
  p = p * q + 0.008710547350347042f;
  p = p * q - 0.00803056824952364f;
  p = p * q - 0.05421807989478111f;
  p = p * q + 0.16405099630355835f;
  p = p * q - 0.16603051126003265f;
  p = p * q - 0.09276381880044937f;
  p = p * q + 0.27697837352752686f;
  const float r = (1.0f + p) / (2.0f * t + 1.0f);
  const double sd = azc * azc;
  const float sf = static_cast<float>(sd);
  const float e = ew::vexp(-sf) * (1.0f - static_cast<float>(sd - sf));
  const float erfc = az <= 10.0546875 ? r * e : 0.0f;
  const float g = 0.5f * clamp_finite(x) * erfc;
  return ew::gt(x, 0.0f) ? x - g : g;
}

inline float gelu_tanh_scalar(float x) {
  const float xs = ew::vmax(ew::vmin(x, 100.0f), -100.0f);
  const float u = 0.7978845608028654f * xs * (1.0f + 0.044715f * xs * xs);
  return ew::vmax(x, -3.40282347e38f) / (1.0f + ew::vexp(-2.0f * u));
}

}  // namespace

// GELU over any float tensor; attr approximate = "none" (erf) or "tanh". Also the ONNX Gelu kernel.
void gelu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const bool tanh_form = ctx.attrs().get_string("approximate", "none") == "tanh";
  const int64_t n = x.numel();
  if (n == 0) return;
  if (!use_avx512()) {
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (tanh_form)
        ew::map_unary(ctx.pool(), x.data<T>(), y.data<T>(), n, [](float v) { return gelu_tanh_scalar(v); });
      else
        ew::map_unary(ctx.pool(), x.data<T>(), y.data<T>(), n, [](float v) { return gelu_erf_scalar(v); });
    });
    return;
  }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
      if constexpr (std::is_same_v<T, float>) {
        gelu_f32_avx512(px + b, py + b, e - b, tanh_form);
      } else {
        float buf[1024];
        for (int64_t c = b; c < e; c += 1024) {
          const int64_t m = std::min<int64_t>(1024, e - c);
          for (int64_t i = 0; i < m; ++i) buf[i] = static_cast<float>(px[c + i]);
          gelu_f32_avx512(buf, buf, m, tanh_form);
          for (int64_t i = 0; i < m; ++i) py[c + i] = T(buf[i]);
        }
      }
    });
  });
}

// in_place(1u) for the ONNX Gelu: its AVX-512 loop loads a 16-lane block of x before it stores the same block
// of y; the portable path runs ew::map_unary (each element is read before the same index is written).
void register_gelu_kernels(KernelTable& t) {
  t.add("Gelu", gelu_kernel).in_place(1u);  // vectorised erf/tanh forms, shared with r1::Gelu
  t.add("Gelu", gelu_kernel, "r1");
}
}  // namespace r1::cpu
