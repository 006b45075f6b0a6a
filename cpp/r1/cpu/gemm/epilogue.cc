// The portable epilogue (baseline path): the same formulas as the AVX-512 one (act_avx512.h) on
// the scalar ew:: math, in loops the compiler vectorizes for the baseline ISA.
#pragma GCC optimize("no-trapping-math")  // lets GCC if-convert the selects (elementwise_math.h)
#include <cmath>

#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/kernels/elementwise_math.h"

namespace r1::cpu::gemm {
namespace {
using namespace ew;

// 0.5 x (1 + erf(x / sqrt 2)) without the cancellation of 1 + erf for negative x (see act_avx512.h).
inline float gelu_erf(float x) {
  const float z = x * 0.70710678118654752f;
  const float t = vmin(vabs(z), 14.0f);
  const float s = z * z;
  float r = -1.72853470e-5f * t + 3.83197126e-4f;
  const float u = -3.88396438e-3f * t + 2.42546219e-2f;
  r = r * (t * t) + u;
  r = r * t + -1.06777877e-1f;
  r = r * t + -6.34846687e-1f;
  r = r * t + -1.28717512e-1f;
  r = r * t - t;
  const float tail = 0.5f * vmax(-3.4e38f, vmin(3.4e38f, x)) * vexp(r);
  const float big = gt(x, 0.f) ? x - tail : tail;
  float q = -5.96761703e-4f;
  q = q * s + 4.99119423e-3f;
  q = q * s + -2.67681349e-2f;
  q = q * s + 1.12819925e-1f;
  q = q * s + -3.76125336e-1f;
  q = q * s + 1.28379166e-1f;
  const float half_x = 0.5f * x;
  const float small = half_x * (q * z + z) + half_x;
  return gt(vabs(z), 0.921875f) ? big : small;
}

inline float x_sigmoid(float x, float sx) { return x / (1.0f + vexp(-sx)); }

template <Act A>
inline float activate(float x, float pa, float pb) {
  switch (A) {
    case Act::None:
      return x;
    case Act::Relu:
      return lt(x, 0.f) ? 0.f : x;
    case Act::Gelu:
    case Act::GeluFast:
      return gelu_erf(x);
    case Act::GeluTanh:
      return x_sigmoid(x, 2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x));
    case Act::Sigmoid:
      return vsigmoid(x);
    case Act::Silu:
      return x_sigmoid(x, x);
    case Act::Tanh:
      return vtanh(x);
    case Act::HardSigmoid:
      return vmin(1.f, vmax(0.f, pa * x + pb));
    case Act::HardSwish:
      return x * vmin(1.f, vmax(0.f, x * (1.0f / 6.0f) + 0.5f));
    case Act::Clip:
      return vmin(pb, vmax(pa, x));
    case Act::LeakyRelu:
      return lt(x, 0.f) ? x * pa : x;
  }
  return x;
}

template <Act A>
void rows(float* c, int64_t ldc, int64_t nrows, int64_t cols, int64_t row0, int64_t col0, const Epilogue& ep) {
  const float alpha = ep.alpha, pa = ep.act_alpha, pb = ep.act_beta;
  const float* bias = ep.bias ? ep.bias + col0 : nullptr;
  for (int64_t r = 0; r < nrows; ++r) {
    float* __restrict cr = c + r * ldc;
    const float* res = ep.residual ? ep.residual + (row0 + r) * ep.ld_residual + col0 : nullptr;
    for (int64_t j = 0; j < cols; ++j) {
      float x = cr[j] * alpha;
      if (bias) x += bias[j];
      if (res) x += res[j];
      cr[j] = activate<A>(x, pa, pb);
    }
  }
}

}  // namespace

void epilogue_tile_ref(float* c, int64_t ldc, int64_t nrows, int64_t cols, int64_t row0, int64_t col0,
                       const Epilogue& ep) {
  if (ep.alpha == 1.f && !ep.bias && !ep.residual && ep.act == Act::None) return;
  switch (ep.act) {
#define R1_CASE(A)                                     \
  case Act::A:                                         \
    rows<Act::A>(c, ldc, nrows, cols, row0, col0, ep); \
    return;
    R1_GEMM_ACTIVATIONS(R1_CASE)
#undef R1_CASE
  }
}

}  // namespace r1::cpu::gemm
