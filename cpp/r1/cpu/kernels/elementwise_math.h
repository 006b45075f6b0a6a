// Branch-free float32 math for the elementwise kernels, written so that -O3 vectorizes loops
// that call it (plain arithmetic, selects, bit casts; no libm calls). Files using it start with
// #pragma GCC optimize("no-trapping-math"): otherwise GCC will not if-convert selects whose
// arms hold float arithmetic, and the loops stay scalar (results are unchanged by the flag). Accuracy within a few ulp
// of the correctly rounded result over the whole float range (tests compare with float64).
//
//   y[i] = ew::vexp(x[i]);   ew::vtanh, ew::vsigmoid, ew::verf
// Also branch-free float16/bfloat16 <-> float conversions (round to nearest even, NaN/Inf and
// subnormals kept), used by every elementwise loop on 16-bit floats.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "r1/core/dtype.h"

namespace r1::cpu::ew {

inline uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Quiet comparisons (__builtin_isless...) cannot trap, so the compiler if-converts and vectorizes
// loops that use them even with the default -ftrapping-math.
inline bool lt(float a, float b) { return __builtin_isless(a, b); }
inline bool gt(float a, float b) { return __builtin_isgreater(a, b); }
inline bool isnan_q(float a) { return __builtin_isunordered(a, a); }
inline float vmin(float a, float b) { return lt(b, a) ? b : a; }  // NaN in a propagates
inline float vmax(float a, float b) { return lt(a, b) ? b : a; }
inline float vabs(float x) { return bitsf(fbits(x) & 0x7fffffffu); }
inline float vcopysign(float mag, float sgn) { return bitsf((fbits(mag) & 0x7fffffffu) | (fbits(sgn) & 0x80000000u)); }

// exp(x): Cephes-style range reduction x = n ln2 + r, degree-6 polynomial, 2^n by exponent bits.
inline float vexp(float x) {
  // Clamping to [-104, 89] makes under/overflow come out of the arithmetic itself (0 and inf),
  // so the only select left is for NaN. (x < lo ? lo : x) maps to maxps/minps.
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 89.0f ? 89.0f : xc;
  xc = isnan_q(x) ? 0.0f : xc;
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n as two normal factors: n spans [-150, 129] (subnormal results, overflow to inf)
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni >> 1;
  const float s1 = bitsf(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = bitsf(static_cast<uint32_t>(ni - n1 + 127) << 23);
  const float res = p * s1 * s2;
  return isnan_q(x) ? x : res;
}

inline float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

// tanh: odd polynomial near 0 (Cephes tanhf), 1 - 2 / (exp(2|x|) + 1) elsewhere.
inline float vtanh(float x) {
  const float ax = vabs(x);
  const float e = vexp(2.0f * vmin(ax, 9.5f));
  const float big = 1.0f - 2.0f / (e + 1.0f);
  const float z = x * x;
  float s = -5.70498872745e-3f;
  s = s * z + 2.06390887954e-2f;
  s = s * z - 5.37397155531e-2f;
  s = s * z + 1.33314422036e-1f;
  s = s * z - 3.33332819422e-1f;
  const float small = s * z * ax + ax;
  const float r = lt(ax, 0.625f) ? small : big;
  return isnan_q(x) ? x : vcopysign(r, x);
}

// erf: polynomial in x^2 for |x| <= 0.921875, 1 - exp(poly(|x|)) beyond.
inline float verf(float a) {
  const float t = vabs(a);
  const float s = a * a;
  float r = -1.72853470e-5f * t + 3.83197126e-4f;
  float u = -3.88396438e-3f * t + 2.42546219e-2f;
  r = r * s + u;
  r = r * t + -1.06777877e-1f;
  r = r * t + -6.34846687e-1f;
  r = r * t + -1.28717512e-1f;
  r = r * t - t;
  const float big = vcopysign(1.0f - vexp(r), a);
  float q = -5.96761703e-4f;
  q = q * s + 4.99119423e-3f;
  q = q * s + -2.67681349e-2f;
  q = q * s + 1.12819925e-1f;
  q = q * s + -3.76125336e-1f;
  q = q * s + 1.28379166e-1f;
  const float small = q * a + a;
  return gt(t, 0.921875f) ? big : (isnan_q(a) ? a : small);
}

// ---- 16-bit float conversions.
inline float half_to_float(uint16_t h) {
  const uint32_t em = h & 0x7fffu;
  uint32_t r = fbits(bitsf(em << 13) * 0x1p112f);
  r = em >= 0x7c00u ? (r | 0x7f800000u) : r;
  return bitsf(r | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

inline uint16_t float_to_half(float f) {
  uint32_t u = fbits(f);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  const uint32_t infnan = u > 0x7f800000u ? 0x7e00u : 0x7c00u;
  // subnormal or zero result: align mantissa bits with a magic add (rounds to nearest even)
  const uint32_t sub = fbits(bitsf(u) + bitsf(126u << 23)) - (126u << 23);
  const uint32_t mant_odd = (u >> 13) & 1u;
  const uint32_t norm = (u + (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + mant_odd) >> 13;
  uint32_t o = u < (113u << 23) ? sub : norm;
  o = u >= (143u << 23) ? infnan : o;
  return static_cast<uint16_t>(o | (sign >> 16));
}

inline float bf16_to_float(uint16_t b) { return bitsf(static_cast<uint32_t>(b) << 16); }
inline uint16_t float_to_bf16(float f) {
  const uint32_t x = fbits(f);
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? ((x >> 16) | 0x40u) : rounded);
}

// Loops read and write 16-bit floats as raw uint16_t (a struct load does not vectorize):
//   const raw_t<T>* px = raw_ptr(x.data<T>());  compute_t<T> v = load_r<T>(px[i]);  py[i] = store_r<T>(v);
template <class T>
struct raw_type {
  using type = T;
};
template <>
struct raw_type<half> {
  using type = uint16_t;
};
template <>
struct raw_type<bfloat16> {
  using type = uint16_t;
};
template <class T>
using raw_t = typename raw_type<T>::type;

template <class T>
inline const raw_t<T>* raw_ptr(const T* p) {
  return reinterpret_cast<const raw_t<T>*>(p);
}
template <class T>
inline raw_t<T>* raw_ptr(T* p) {
  return reinterpret_cast<raw_t<T>*>(p);
}

template <class T>
inline compute_t<T> load_r(raw_t<T> v) {
  if constexpr (std::is_same_v<T, half>)
    return half_to_float(v);
  else if constexpr (std::is_same_v<T, bfloat16>)
    return bf16_to_float(v);
  else
    return v;
}

template <class T, class V>
inline raw_t<T> store_r(V v) {
  if constexpr (std::is_same_v<T, half>)
    return float_to_half(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, bfloat16>)
    return float_to_bf16(static_cast<float>(v));
  else
    return static_cast<T>(v);
}

}  // namespace r1::cpu::ew

namespace r1::cpu {
// ---- AVX-512 row kernels (act_avx512.cc, norm_avx512.cc), shared by the softmax, normalisation
// and GELU kernels. Call only when cpu_features().has_avx512_kernels().
void gelu_f32_avx512(const float* x, float* y, int64_t n, bool tanh_form);
float row_max_avx512(const float* x, int64_t n);
float row_exp_sum_avx512(const float* x, float* y, int64_t n, float m);  // y = exp(x - m) (y may be null); sum
void row_scale_avx512(const float* x, float* y, int64_t n, float f);
void row_sub2_avx512(const float* x, float* y, int64_t n, float a, float b);
double row_sum_avx512(const float* x, int64_t n);
double add_row_sum_avx512(const float* x, const float* skip, const float* bias, float* out, int64_t n);
double row_sq_dev_avx512(const float* x, int64_t n, double mean);
void normalize_row_avx512(const float* x, float* y, int64_t n, float mean, float inv, const float* scale,
                          const float* bias);
}  // namespace r1::cpu
