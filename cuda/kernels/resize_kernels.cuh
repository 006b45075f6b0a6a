// The device side of Resize / Upsample (resize.cu says what it computes): the options and parameters,
// the coordinate arithmetic, resize_tables and the two per-element kernels. Included by resize.cu only:
// like the rest of that file, it lives in an unnamed namespace.
#pragma once
#include <cmath>
#include <cstdint>

#include "elementwise.cuh"

namespace r1::gpu {
namespace {

constexpr int kMaxRank = 8;

enum Mode : int { kNearest = 0, kLinear = 1, kCubic = 2 };
enum Ctm : int {
  kHalfPixel = 0,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNN,
  kTfCropAndResize
};
enum NearestMode : int { kRoundPreferFloor = 0, kRoundPreferCeil, kFloor, kCeil, kLegacy };

struct ResizeOpts {
  int mode = kNearest;
  int ctm = kHalfPixel;
  int nearest = kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  float extrapolation = 0.f;
};

struct ResizeParams {
  ResizeOpts o;
  int rank;
  int64_t in_len[kMaxRank], out_len[kMaxRank], in_stride[kMaxRank];
  double scale[kMaxRank], r0[kMaxRank], r1[kMaxRank];
  int taps[kMaxRank];
  int identity[kMaxRank];
  int64_t tab_off[kMaxRank];  // first tap of the axis in the idx / w tables (out_len * taps entries)
  int64_t row_off[kMaxRank];  // first output index of the axis in the oob table (out_len entries)
  int64_t total_rows;         // sum of out_len over the axes
};

// Double arithmetic without contraction into fused multiply-adds (the CPU's values exactly).
__host__ __device__ __forceinline__ double d_add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  return a + b;
#endif
}
__host__ __device__ __forceinline__ double d_sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  return a - b;
#endif
}
__host__ __device__ __forceinline__ double d_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  return a * b;
#endif
}
__host__ __device__ __forceinline__ double d_div(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  return a / b;
#endif
}

// The CPU's x_original: output index x of an axis to its input coordinate.
__host__ __device__ double x_original(int ctm, double x, double scale, int64_t out_len, int64_t in_len, double r0,
                                      double r1) {
  const double out_w = d_mul(scale, static_cast<double>(in_len));
  const double in_m1 = static_cast<double>(in_len - 1);
  switch (ctm) {
    case kAlignCorners:
      return out_w == 1 ? 0.0 : d_div(d_mul(x, in_m1), d_sub(out_w, 1));
    case kAsymmetric:
      return d_div(x, scale);
    case kTfHalfPixelForNN:
      return d_div(d_add(x, 0.5), scale);
    case kTfCropAndResize: {
      const double v = out_w == 1 ? d_div(d_mul(d_sub(r1, r0), in_m1), 2)
                                  : d_div(d_mul(d_mul(x, d_sub(r1, r0)), in_m1), d_sub(out_w, 1));
      return d_add(v, d_mul(r0, in_m1));
    }
    case kPytorchHalfPixel:
      return out_w == 1 ? -0.5 : d_sub(d_div(d_add(x, 0.5), scale), 0.5);
    case kHalfPixelSymmetric: {
      const double adjustment = d_div(static_cast<double>(out_len), out_w);
      const double center = d_div(static_cast<double>(in_len), 2);
      const double offset = d_mul(center, d_sub(1, adjustment));
      return d_sub(d_add(offset, d_div(d_add(x, 0.5), scale)), 0.5);
    }
    case kHalfPixel:
    default:
      return d_sub(d_div(d_add(x, 0.5), scale), 0.5);
  }
}

__device__ __forceinline__ double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

// Tap t of the CPU's coeffs() before any normalization.
__device__ double raw_coeff(const ResizeOpts& o, double ratio, double scale, int t) {
  if (o.mode == kLinear) {
    if (!o.antialias) return t == 0 ? 1 - ratio : ratio;
    const double s = fmin(scale, 1.0);
    const int64_t start = static_cast<int64_t>(floor(-1 / s) + 1);
    const double a = (static_cast<double>(start + t) - ratio) * s;
    return clamp01(1 - fabs(a));
  }
  const double A = o.cubic_a;
  if (!o.antialias) {
    const double r = ratio;
    switch (t) {
      case 0:
        return ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
      case 1:
        return ((A + 2) * r - (A + 3)) * r * r + 1;
      case 2:
        return ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
      default:
        return ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
    }
  }
  const double s = fmin(scale, 1.0);
  const int64_t i0 = static_cast<int64_t>(floor(-2 / s) + 1);
  double x = fabs(s * (static_cast<double>(i0 + t) - ratio));
  const double x2 = x * x, x3 = x * x2;
  if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
  if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
  return 0.0;
}

// One thread per (axis, output index): the taps and the out-of-roi flag.
__global__ void resize_tables(ResizeParams p, int64_t* __restrict__ idx, float* __restrict__ w,
                              uint8_t* __restrict__ oob) {
  for (int64_t g = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; g < p.total_rows;
       g += int64_t{gridDim.x} * blockDim.x) {
    int a = 0;
    while (a + 1 < p.rank && g >= p.row_off[a + 1]) ++a;
    const int64_t i = g - p.row_off[a];
    const int64_t in_len = p.in_len[a];
    const int64_t hi = in_len - 1 > 0 ? in_len - 1 : 0;
    const ResizeOpts& o = p.o;
    const double x = x_original(o.ctm, static_cast<double>(i), p.scale[a], p.out_len[a], in_len, p.r0[a], p.r1[a]);
    oob[g] = o.ctm == kTfCropAndResize && (x < 0 || x > static_cast<double>(in_len - 1)) ? 1 : 0;
    const int n = p.taps[a];
    int64_t* ti = idx + p.tab_off[a] + i * n;
    float* tw = w + p.tab_off[a] + i * n;
    if (o.mode != kNearest && p.identity[a]) {
      ti[0] = i;
      tw[0] = 1.f;
      continue;
    }
    const double fl = floor(x);
    const bool integer = fl == x;
    const double x_int = integer ? x - 1 : fl;
    const double ratio = x - x_int;  // in (0, 1]
    if (o.mode == kNearest) {
      int64_t pick;
      if (o.nearest == kLegacy) {
        pick = p.scale[a] < 1 ? static_cast<int64_t>(ceil(x)) : static_cast<int64_t>(x);
      } else if (integer) {
        pick = static_cast<int64_t>(x);
      } else {
        bool up;
        switch (o.nearest) {
          case kRoundPreferFloor:
            up = ratio > 0.5;
            break;
          case kRoundPreferCeil:
            up = ratio >= 0.5;
            break;
          case kFloor:
            up = false;
            break;
          default:
            up = true;
            break;
        }
        pick = static_cast<int64_t>(x_int) + (up ? 1 : 0);
      }
      ti[0] = pick < 0 ? 0 : (pick > hi ? hi : pick);
      tw[0] = 1.f;
      continue;
    }
    // Antialias normalizes the taps to sum 1 (in order, as the CPU); exclude_outside zeroes the taps
    // outside the axis and normalizes again.
    double sum1 = 1.0;
    if (o.antialias) {
      sum1 = 0.0;
      for (int t = 0; t < n; ++t) sum1 += raw_coeff(o, ratio, p.scale[a], t);
    }
    const int64_t base = static_cast<int64_t>(x_int) - n / 2 + 1;
    double sum2 = 0.0;
    if (o.exclude_outside) {
      for (int t = 0; t < n; ++t) {
        const int64_t q = base + t;
        double c = raw_coeff(o, ratio, p.scale[a], t);
        if (o.antialias) c /= sum1;
        if (q < 0 || q >= in_len) c = 0;
        sum2 += c;
      }
    }
    for (int t = 0; t < n; ++t) {
      const int64_t q = base + t;
      double c = raw_coeff(o, ratio, p.scale[a], t);
      if (o.antialias) c /= sum1;
      if (o.exclude_outside) {
        if (q < 0 || q >= in_len) c = 0;
        if (sum2 != 0) c /= sum2;
      }
      ti[t] = q < 0 ? 0 : (q > hi ? hi : q);
      tw[t] = static_cast<float>(c);
    }
  }
}

template <class U>
__global__ void resize_nearest_kernel(const U* __restrict__ x, U* __restrict__ y, ResizeParams p,
                                      const int64_t* __restrict__ idx, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    int64_t rem = e, off = 0;
    for (int a = p.rank - 1; a >= 0; --a) {
      const int64_t q = rem / p.out_len[a];
      const int64_t oi = rem - q * p.out_len[a];
      rem = q;
      off += idx[p.tab_off[a] + oi] * p.in_stride[a];
    }
    y[e] = x[off];
  }
}

template <class T>
__global__ void resize_interp_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                     ResizeParams p, const int64_t* __restrict__ idx, const float* __restrict__ w,
                                     const uint8_t* __restrict__ oob, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    int64_t first[kMaxRank];  // first tap of this output index on each axis
    int t[kMaxRank];
    int64_t rem = e;
    bool out = false;
    for (int a = p.rank - 1; a >= 0; --a) {
      const int64_t q = rem / p.out_len[a];
      const int64_t oi = rem - q * p.out_len[a];
      rem = q;
      out = out || oob[p.row_off[a] + oi] != 0;
      first[a] = p.tab_off[a] + oi * p.taps[a];
      t[a] = 0;
    }
    if (out) {
      y[e] = T::store(p.o.extrapolation);
      continue;
    }
    float acc = 0.f;
    for (;;) {
      float wt = 1.f;
      int64_t off = 0;
      for (int a = 0; a < p.rank; ++a) {
        wt *= w[first[a] + t[a]];
        off += idx[first[a] + t[a]] * p.in_stride[a];
      }
      acc += wt * T::load(x[off]);
      int a = p.rank - 1;
      while (a >= 0 && ++t[a] == p.taps[a]) t[a--] = 0;
      if (a < 0) break;
    }
    y[e] = T::store(acc);
  }
}

}  // namespace
}  // namespace r1::gpu
