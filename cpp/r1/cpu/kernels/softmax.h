// The row kernel of Softmax, LogSoftmax and Hardmax (one template, the op a parameter: softmax.cc and
// hardmax.cc register it): numerically stable, rows over the last axis are contiguous vectorized loops,
// parallel over rows.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/reduce_simd.h"

namespace r1::cpu {

// Row primitives: AVX-512 (act_avx512.cc) where the CPU has it, else reduce_simd.h (AVX2 / portable).
inline bool use_avx512() {
  static const bool v = cpu_features().has_avx512_kernels();
  return v;
}
inline float rmax(const float* x, int64_t n) { return use_avx512() ? row_max_avx512(x, n) : simd::row_max(x, n); }
inline float rexp_sum(const float* x, float* y, int64_t n, float m) {
  return use_avx512() ? row_exp_sum_avx512(x, y, n, m) : simd::row_exp_sum(x, y, n, m);
}
inline void rscale(float* y, int64_t n, float f) {
  if (use_avx512())
    row_scale_avx512(y, y, n, f);
  else
    simd::row_scale(y, n, f);
}
inline void rsub2(const float* x, float* y, int64_t n, float a, float b) {
  if (use_avx512())
    row_sub2_avx512(x, y, n, a, b);
  else
    simd::row_sub2(x, y, n, a, b);
}

enum SmOp { kSoftmax, kLogSoftmax, kHardmax };

// One softmax row of n contiguous elements.
template <class T, int Op>
void softmax_row(const T* xr, T* yr, int64_t n, std::vector<float>& tmp, std::vector<float>& tmp2) {
  const float* x = row_as_float(xr, n, tmp);
  float m = rmax(x, n);
  if (!std::isfinite(m)) m = m > 0 ? m : 0.0f;  // all -inf rows: avoid inf - inf
  if constexpr (Op == kHardmax) {
    int64_t bi = 0;
    float best = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j)
      if (x[j] > best) {
        best = x[j];
        bi = j;
      }
    for (int64_t j = 0; j < n; ++j) yr[j] = convert<T>(j == bi ? 1.0f : 0.0f);
  } else if constexpr (Op == kSoftmax) {
    if constexpr (std::is_same_v<T, float>) {
      float s = rexp_sum(x, yr, n, m);
      rscale(yr, n, 1.0f / s);
    } else {
      if (static_cast<int64_t>(tmp2.size()) < n) tmp2.resize(n);
      float* y = tmp2.data();
      float inv = 1.0f / rexp_sum(x, y, n, m);
      for (int64_t j = 0; j < n; ++j) yr[j] = convert<T>(y[j] * inv);
    }
  } else {
    float ls = std::log(rexp_sum(x, nullptr, n, m));
    if constexpr (std::is_same_v<T, float>) {
      rsub2(x, yr, n, m, ls);
    } else {
      for (int64_t j = 0; j < n; ++j) yr[j] = convert<T>((x[j] - m) - ls);
    }
  }
}

template <class T, int Op>
void run_softmax(const T* px, T* py, int64_t outer, int64_t L, int64_t inner, ThreadPool& pool) {
  if (inner == 1) {
    pool.parallel_for(0, outer, grain_for(L * 4), [&](int64_t b, int64_t e) {
      std::vector<float> tmp, tmp2;
      for (int64_t o = b; o < e; ++o) softmax_row<T, Op>(px + o * L, py + o * L, L, tmp, tmp2);
    });
    return;
  }
  // Strided axis: vectorize across the inner positions, one pass per statistic.
  pool.parallel_for(0, outer, grain_for(L * inner * 4), [&](int64_t b, int64_t e) {
    std::vector<float> m(inner), s(inner);
    std::vector<int64_t> bi(inner);
    for (int64_t o = b; o < e; ++o) {
      const T* x = px + o * L * inner;
      T* y = py + o * L * inner;
      for (int64_t i = 0; i < inner; ++i) {
        m[i] = -std::numeric_limits<float>::infinity();
        s[i] = 0;
        bi[i] = 0;
      }
      for (int64_t j = 0; j < L; ++j) {
        const T* r = x + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          float v = static_cast<float>(r[i]);
          bool gt = v > m[i];
          bi[i] = gt ? j : bi[i];
          m[i] = gt ? v : m[i];
        }
      }
      if constexpr (Op == kHardmax) {
        for (int64_t j = 0; j < L; ++j)
          for (int64_t i = 0; i < inner; ++i) y[j * inner + i] = convert<T>(bi[i] == j ? 1.0f : 0.0f);
        continue;
      } else {
        for (int64_t i = 0; i < inner; ++i)
          if (!std::isfinite(m[i])) m[i] = m[i] > 0 ? m[i] : 0.0f;
        for (int64_t j = 0; j < L; ++j) {
          const T* r = x + j * inner;
          if constexpr (std::is_same_v<T, float>) {
            simd::exp_sub_acc(r, m.data(), s.data(), inner);
          } else {
            for (int64_t i = 0; i < inner; ++i) s[i] += fast_exp(static_cast<float>(r[i]) - m[i]);
          }
        }
        if constexpr (Op == kSoftmax) {
          for (int64_t i = 0; i < inner; ++i) s[i] = 1.0f / s[i];
          for (int64_t j = 0; j < L; ++j) {
            const T* r = x + j * inner;
            T* yo = y + j * inner;
            if constexpr (std::is_same_v<T, float>) {
              simd::exp_sub_mul(r, m.data(), s.data(), yo, inner);
            } else {
              for (int64_t i = 0; i < inner; ++i) yo[i] = convert<T>(fast_exp(static_cast<float>(r[i]) - m[i]) * s[i]);
            }
          }
        } else {
          for (int64_t i = 0; i < inner; ++i) s[i] = std::log(s[i]);
          for (int64_t j = 0; j < L; ++j) {
            const T* r = x + j * inner;
            T* yo = y + j * inner;
            for (int64_t i = 0; i < inner; ++i) yo[i] = convert<T>((static_cast<float>(r[i]) - m[i]) - s[i]);
          }
        }
      }
    }
  });
}

template <int Op>
void softmax_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int rank = x.rank();
  const Shape& s = x.shape();
  int64_t outer = 1, L = 1, inner = 1;
  if (ctx.opset() >= 13) {
    int axis = normalize_axis(ctx.attrs().get_int("axis", -1), std::max(rank, 1), "axis");
    for (int i = 0; i < axis; ++i) outer *= s[i];
    L = rank ? s[axis] : 1;
    for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  } else {
    int64_t axis = ctx.attrs().get_int("axis", 1);
    if (axis < 0) axis += rank;
    for (int i = 0; i < rank; ++i) (i < axis ? outer : L) *= s[i];
  }
  if (x.numel() == 0) return;
  if (x.dtype() == DType::Float64) {  // in double throughout, row by row
    const double* px = x.data<double>();
    double* py = y.data<double>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const double* r = px + o * L * inner + i;
        double* w = py + o * L * inner + i;
        double m = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t k = 0; k < L; ++k) m = std::max(m, r[k * inner]);
        for (int64_t k = 0; k < L; ++k) sum += std::exp(r[k * inner] - m);
        for (int64_t k = 0; k < L; ++k)
          w[k * inner] = Op == kLogSoftmax ? r[k * inner] - m - std::log(sum) : std::exp(r[k * inner] - m) / sum;
      }
    return;
  }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_softmax<T, Op>(x.data<T>(), y.data<T>(), outer, L, inner, ctx.pool());
  });
}

}  // namespace r1::cpu
