// Shared pieces of the CPU kernels that reduce (reduce.cc, softmax.h, topk.cc, the normalizations): a reduction plan
// (outer / reduce / inner decomposition of an arbitrary axis set), a vectorizable exp, and row statistics helpers.
//
//   ReducePlan plan = make_reduce_plan(x.shape(), reduced_mask);
//   reduce_plan<T, SumPolicy<T>>(px, plan, pool, nullptr, [&](int64_t o, double acc) { py[o] = ...; });
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "r1/cpu/kernels/elementwise_math.h"

#include "r1/cpu/kernels/common.h"

namespace r1::cpu {

// Reduction of x over a set of axes, as: for each kept leading position p (P of them, at input
// offset base[p]) and each trailing kept position i (inner of them, contiguous), reduce over the
// reduced positions: offsets roff[q] (Q of them) times a last contiguous reduced block of L
// elements with stride `inner`. Output element index is p * inner + i (row-major of kept dims).
struct ReducePlan {
  int64_t P = 1, L = 1, inner = 1;
  std::vector<int64_t> base{0};
  std::vector<int64_t> roff{0};
  int64_t count() const { return static_cast<int64_t>(roff.size()) * L; }
  int64_t out_numel() const { return P * inner; }
};

// Shapes must be static; reduced[d] marks reduced axes. Dims of size 1 are ignored. Requires
// numel(shape) > 0 (callers handle empty tensors separately).
ReducePlan make_reduce_plan(const Shape& shape, const std::vector<bool>& reduced);

// exp(x) in float: the shared branch-free implementation (elementwise_math.h), so loops vectorize.
inline float fast_exp(float x) { return ew::vexp(x); }

template <class T>
inline compute_t<T> cv(T v) {
  return static_cast<compute_t<T>>(v);
}

// Copies n elements of T into float (for 16-bit floats); returns a float view of the row.
template <class T>
inline const float* row_as_float(const T* x, int64_t n, std::vector<float>& tmp) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    if (static_cast<int64_t>(tmp.size()) < n) tmp.resize(n);
    for (int64_t i = 0; i < n; ++i) tmp[i] = static_cast<float>(x[i]);
    return tmp.data();
  }
}

// Sum of a float row in double, with independent lanes so it vectorizes.
inline double row_sum(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[j + k]);
  double s = 0;
  for (; j < n; ++j) s += x[j];
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Sum of (x - m)^2 of a float row in double.
inline double row_sq_dev(const float* x, int64_t n, double m) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) {
      double d = static_cast<double>(x[j + k]) - m;
      acc[k] += d * d;
    }
  double s = 0;
  for (; j < n; ++j) {
    double d = x[j] - m;
    s += d * d;
  }
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Mean and (population) variance of a float row, two-pass for accuracy.
inline void row_mean_var(const float* x, int64_t n, double* mean, double* var) {
  if (n == 0) {
    *mean = 0;
    *var = 0;
    return;
  }
  double m = row_sum(x, n) / static_cast<double>(n);
  *mean = m;
  *var = row_sq_dev(x, n, m) / static_cast<double>(n);
}

// Splits [0, n) into parallel tasks of roughly `work_per_item` elements each.
inline int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(work_per_item, 1));
}

template <class P, class = void>
struct has_fast_run : std::false_type {};
template <class P>
struct has_fast_run<P, std::void_t<decltype(P::fast_run)>> : std::true_type {};

// Reduces one contiguous run of n elements with Pol, using independent lanes to vectorize
// (or Pol::fast_run(r, n, sh) where the policy has a hand-vectorized row routine).
template <class T, class Pol>
inline typename Pol::Acc reduce_run(const T* r, int64_t n, float sh) {
  using Acc = typename Pol::Acc;
  if constexpr (has_fast_run<Pol>::value) return Pol::fast_run(r, n, sh);
  Acc lane[8];
  for (int k = 0; k < 8; ++k) lane[k] = Pol::init();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lane[k] = Pol::comb(lane[k], Pol::map(r[j + k], sh));
  Acc a = Pol::init();
  for (; j < n; ++j) a = Pol::comb(a, Pol::map(r[j], sh));
  Acc b = Pol::comb(Pol::comb(lane[0], lane[1]), Pol::comb(lane[2], lane[3]));
  Acc c = Pol::comb(Pol::comb(lane[4], lane[5]), Pol::comb(lane[6], lane[7]));
  return Pol::comb(a, Pol::comb(b, c));
}

// Runs the reduction described by `pl` over x with policy Pol (Acc, init(), map(T, float shift),
// comb(Acc, Acc), kShift). shift (optional, one float per output element) is passed to map.
// write(out_index, acc) is called once per output element, possibly from several threads.
template <class T, class Pol, class W>
void reduce_plan(const T* x, const ReducePlan& pl, ThreadPool& pool, const float* shift, W&& write) {
  using Acc = typename Pol::Acc;
  const int64_t Q = static_cast<int64_t>(pl.roff.size()), L = pl.L, inner = pl.inner, P = pl.P;
  const int64_t count = Q * L;
  const int64_t* base = pl.base.data();
  const int64_t* roff = pl.roff.data();
  if (inner == 1) {
    int nt = pool.num_threads();
    if (nt > 1 && P < 2 * nt && Q == 1 && L >= (int64_t(1) << 16)) {
      // Few long rows: split each row across threads, then combine the partials in order.
      int64_t nseg = std::min<int64_t>(4 * nt, L / 4096);
      std::unique_ptr<Acc[]> part(new Acc[nseg]);
      for (int64_t p = 0; p < P; ++p) {
        float sh = shift ? shift[p] : 0.0f;
        const T* row = x + base[p];
        pool.parallel_for(0, nseg, 1, [&](int64_t b, int64_t e) {
          for (int64_t s = b; s < e; ++s) {
            int64_t j0 = s * L / nseg, j1 = (s + 1) * L / nseg;
            part[s] = reduce_run<T, Pol>(row + j0, j1 - j0, sh);
          }
        });
        Acc a = Pol::init();
        for (int64_t s = 0; s < nseg; ++s) a = Pol::comb(a, part[s]);
        write(p, a);
      }
      return;
    }
    pool.parallel_for(0, P, grain_for(count), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        float sh = shift ? shift[p] : 0.0f;
        Acc a = Pol::init();
        for (int64_t q = 0; q < Q; ++q) a = Pol::comb(a, reduce_run<T, Pol>(x + base[p] + roff[q], L, sh));
        write(p, a);
      }
    });
    return;
  }
  constexpr int64_t CH = 1024;
  const int64_t nch = (inner + CH - 1) / CH;
  const int64_t chunk = std::min(inner, CH);
  pool.parallel_for(0, P * nch, grain_for(count * chunk), [&](int64_t b, int64_t e) {
    std::unique_ptr<Acc[]> acc(new Acc[chunk]);
    for (int64_t t = b; t < e; ++t) {
      int64_t p = t / nch, i0 = (t % nch) * CH, n = std::min(CH, inner - i0);
      for (int64_t i = 0; i < n; ++i) acc[i] = Pol::init();
      Acc* A = acc.get();
      const float* sh = shift ? shift + p * inner + i0 : nullptr;
      for (int64_t q = 0; q < Q; ++q) {
        for (int64_t j = 0; j < L; ++j) {
          const T* r = x + base[p] + roff[q] + j * inner + i0;
          if (sh) {
            for (int64_t i = 0; i < n; ++i) A[i] = Pol::comb(A[i], Pol::map(r[i], sh[i]));
          } else {
            for (int64_t i = 0; i < n; ++i) A[i] = Pol::comb(A[i], Pol::map(r[i], 0.0f));
          }
        }
      }
      for (int64_t i = 0; i < n; ++i) write(p * inner + i0 + i, A[i]);
    }
  });
}

// Calls f(input_offset, out_index, n, out_step) for every contiguous run of n input elements of
// the plan: element k of the run maps to output out_index + k * out_step (out_step is 0 when the
// run lies along the reduced block, 1 when it runs over the inner kept block). Parallel over p.
template <class F>
void for_each_plan_run(const ReducePlan& pl, ThreadPool& pool, F&& f) {
  const int64_t Q = static_cast<int64_t>(pl.roff.size()), L = pl.L, inner = pl.inner;
  pool.parallel_for(0, pl.P, grain_for(Q * L * inner), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        if (inner == 1) {
          f(pl.base[p] + pl.roff[q], p, L, int64_t(0));
        } else {
          for (int64_t j = 0; j < L; ++j) f(pl.base[p] + pl.roff[q] + j * inner, p * inner, inner, int64_t(1));
        }
      }
  });
}

}  // namespace r1::cpu
