// CPU kernels of the reduce family: ReduceX over any axis set (outer / reduce / inner plan),
// ArgMax and ArgMin.
#include <cmath>
#include <limits>
#include <type_traits>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/reduce_simd.h"

namespace r1::cpu {

ReducePlan make_reduce_plan(const Shape& shape, const std::vector<bool>& reduced) {
  std::vector<std::pair<int64_t, bool>> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool r = reduced[d];
    if (!g.empty() && g.back().second == r)
      g.back().first *= shape[d];
    else
      g.push_back({shape[d], r});
  }
  ReducePlan pl;
  if (!g.empty() && !g.back().second) {
    pl.inner = g.back().first;
    g.pop_back();
  }
  if (!g.empty()) {
    pl.L = g.back().first;
    g.pop_back();
  }
  std::vector<int64_t> strides(g.size());
  int64_t stride = pl.L * pl.inner;
  for (size_t i = g.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= g[i].first;
  }
  for (size_t i = 0; i < g.size(); ++i) {
    std::vector<int64_t>& tab = g[i].second ? pl.roff : pl.base;
    std::vector<int64_t> nt;
    nt.reserve(tab.size() * g[i].first);
    for (int64_t o : tab)
      for (int64_t k = 0; k < g[i].first; ++k) nt.push_back(o + k * strides[i]);
    tab.swap(nt);
  }
  pl.P = static_cast<int64_t>(pl.base.size());
  return pl;
}

namespace {

enum RedOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <class T, int Op>
struct RedPol {
  static constexpr bool kInt = std::is_integral_v<T>;
  static constexpr bool kMinMax = Op == kMax || Op == kMin;
  static constexpr bool kDoubleAlways = Op == kL2 || Op == kLogSum || Op == kLogSumExp;
  using Acc = std::conditional_t<kMinMax, compute_t<T>, std::conditional_t<kDoubleAlways || !kInt, double, int64_t>>;
  static Acc init() {
    if constexpr (Op == kProd)
      return Acc(1);
    else if constexpr (Op == kMax)
      return std::numeric_limits<Acc>::has_infinity ? -std::numeric_limits<Acc>::infinity()
                                                    : std::numeric_limits<Acc>::lowest();
    else if constexpr (Op == kMin)
      return std::numeric_limits<Acc>::has_infinity ? std::numeric_limits<Acc>::infinity()
                                                    : std::numeric_limits<Acc>::max();
    else
      return Acc(0);
  }
  static Acc map(T x, float sh) {
    if constexpr (Op == kL1) {
      Acc v = static_cast<Acc>(cv(x));
      return v < 0 ? -v : v;
    } else if constexpr (Op == kL2 || Op == kSumSquare) {
      Acc v = static_cast<Acc>(cv(x));
      return v * v;
    } else if constexpr (Op == kLogSumExp) {
      if constexpr (kInt || std::is_same_v<T, double>)  // float64 keeps double precision
        return std::exp(static_cast<double>(x) - sh);
      else
        return static_cast<double>(fast_exp(static_cast<float>(x) - sh));
    } else {
      return static_cast<Acc>(cv(x));
    }
  }
  static Acc comb(Acc a, Acc b) {
    if constexpr (Op == kProd)
      return a * b;
    else if constexpr (Op == kMax)
      return a > b ? a : b;
    else if constexpr (Op == kMin)
      return a < b ? a : b;
    else
      return a + b;
  }
  // Final value for an output element from its accumulator over n elements.
  static auto post(Acc a, int64_t n, float sh) {
    if constexpr (Op == kMean) {
      if constexpr (kInt)
        return n ? Acc(a / n) : Acc(0);
      else
        return a / static_cast<double>(n);
    } else if constexpr (Op == kL2) {
      return std::sqrt(a);
    } else if constexpr (Op == kLogSum) {
      return std::log(a);
    } else if constexpr (Op == kLogSumExp) {
      return std::log(a) + static_cast<double>(sh);
    } else {
      return a;
    }
  }
};

// Float rows with a hand-vectorized routine (sum, mean, max, min, log-sum-exp).
template <class T, int Op>
struct RedPolFast : RedPol<T, Op> {
  using Acc = typename RedPol<T, Op>::Acc;
  static Acc fast_run(const T* r, int64_t n, float sh) {
    if constexpr (Op == kSum || Op == kMean)
      return simd::row_sum_d(r, n);
    else if constexpr (Op == kMax)
      return simd::row_max(r, n);
    else if constexpr (Op == kMin)
      return simd::row_min(r, n);
    else
      return static_cast<double>(simd::row_exp_sum(r, nullptr, n, sh));
  }
};
template <class T, int Op>
using PolFor = std::conditional_t<std::is_same_v<T, float> &&
                                      (Op == kSum || Op == kMean || Op == kMax || Op == kMin || Op == kLogSumExp),
                                  RedPolFast<T, Op>, RedPol<T, Op>>;

template <class T>
T cast_out(double v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (std::isnan(v)) return T(0);
    return static_cast<T>(v);
  } else {
    return convert<T>(v);
  }
}

template <class T, int Op>
void run_reduce(const Tensor& x, Tensor& y, const std::vector<bool>& mask, ThreadPool& pool) {
  using Pol = PolFor<T, Op>;
  using Acc = typename Pol::Acc;
  T* py = y.data<T>();
  if (y.numel() == 0) return;
  if (x.numel() == 0) {  // a reduced dim is empty: every output is the reduction of nothing
    auto v = Pol::post(Pol::init(), 0, Op == kLogSumExp ? 0.0f : 0.0f);
    T o;
    if constexpr (std::is_same_v<decltype(v), double>)
      o = cast_out<T>(v);
    else
      o = convert<T>(v);
    for (int64_t i = 0; i < y.numel(); ++i) py[i] = o;
    return;
  }
  const T* px = x.data<T>();
  ReducePlan pl = make_reduce_plan(x.shape(), mask);
  const int64_t n = pl.count();
  std::vector<float> shift;
  if constexpr (Op == kLogSumExp) {
    shift.resize(pl.out_numel());
    float* ps = shift.data();
    reduce_plan<T, PolFor<T, kMax>>(px, pl, pool, nullptr, [&](int64_t o, compute_t<T> m) {
      float f = static_cast<float>(m);
      ps[o] = std::isfinite(f) ? f : 0.0f;
    });
  }
  const float* ps = shift.empty() ? nullptr : shift.data();
  reduce_plan<T, Pol>(px, pl, pool, ps, [&](int64_t o, Acc a) {
    auto v = Pol::post(a, n, ps ? ps[o] : 0.0f);
    if constexpr (std::is_same_v<decltype(v), double>)
      py[o] = cast_out<T>(v);
    else
      py[o] = convert<T>(v);
  });
}

int axes_input_opset(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

template <int Op>
void reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string& op = ctx.node().op_type;
  std::vector<int64_t> axes;
  bool noop = false;
  if (ctx.opset() >= axes_input_opset(op)) {
    if (ctx.has_input(1)) axes = ctx.input(1).to_int64_vector();
    noop = ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;
  } else {
    axes = ctx.attrs().get_ints("axes");
  }
  if (axes.empty() && noop) {
    ctx.set_output(0, x);
    return;
  }
  int rank = x.rank();
  std::vector<bool> mask(rank, axes.empty());
  for (int64_t a : axes) mask[normalize_axis(a, rank, "axes")] = true;
  Tensor& y = ctx.output(0);
  auto go = [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      if constexpr (Op == kMax || Op == kMin)
        run_reduce<T, Op>(x, y, mask, ctx.pool());
      else
        R1_THROW(InputError) << op << " is not defined for bool tensors";
    } else {
      run_reduce<T, Op>(x, y, mask, ctx.pool());
    }
  };
  dispatch_all(x.dtype(), go);
}

template <class T, bool kMaxArg>
void run_arg(const T* px, int64_t* py, int64_t outer, int64_t L, int64_t inner, bool last, ThreadPool& pool) {
  using C = compute_t<T>;
  auto better = [last](C v, C best) {
    if constexpr (kMaxArg)
      return last ? v >= best : v > best;
    else
      return last ? v <= best : v < best;
  };
  if (inner == 1) {
    pool.parallel_for(0, outer, grain_for(L), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* r = px + o * L;
        C best = cv(r[0]);
        int64_t bi = 0;
        for (int64_t j = 1; j < L; ++j) {
          C v = cv(r[j]);
          if (better(v, best)) {
            best = v;
            bi = j;
          }
        }
        py[o] = bi;
      }
    });
    return;
  }
  pool.parallel_for(0, outer, grain_for(L * inner), [&](int64_t b, int64_t e) {
    std::vector<C> best(inner);
    for (int64_t o = b; o < e; ++o) {
      const T* r = px + o * L * inner;
      int64_t* out = py + o * inner;
      for (int64_t i = 0; i < inner; ++i) {
        best[i] = cv(r[i]);
        out[i] = 0;
      }
      for (int64_t j = 1; j < L; ++j) {
        const T* rj = r + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          C v = cv(rj[i]);
          bool bt = better(v, best[i]);
          best[i] = bt ? v : best[i];
          out[i] = bt ? j : out[i];
        }
      }
    }
  });
}

template <bool kMaxArg>
void arg_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int rank = x.rank();
  int axis = normalize_axis(ctx.attrs().get_int("axis", 0), std::max(rank, 1), "axis");
  bool last = ctx.attrs().get_int("select_last_index", 0) != 0;
  const Shape& s = x.shape();
  int64_t outer = 1, L = rank ? s[axis] : 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  if (y.numel() == 0) return;
  R1_CHECK(L > 0, InputError) << ctx.node().op_type << " over an empty axis";
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_arg<T, kMaxArg>(x.data<T>(), y.data<int64_t>(), outer, L, inner, last, ctx.pool());
  });
}

}  // namespace

void register_reduce_kernels(KernelTable& t) {
  t.add("ReduceSum", reduce_kernel<kSum>);
  t.add("ReduceMean", reduce_kernel<kMean>);
  t.add("ReduceMax", reduce_kernel<kMax>);
  t.add("ReduceMin", reduce_kernel<kMin>);
  t.add("ReduceProd", reduce_kernel<kProd>);
  t.add("ReduceL1", reduce_kernel<kL1>);
  t.add("ReduceL2", reduce_kernel<kL2>);
  t.add("ReduceLogSum", reduce_kernel<kLogSum>);
  t.add("ReduceLogSumExp", reduce_kernel<kLogSumExp>);
  t.add("ReduceSumSquare", reduce_kernel<kSumSquare>);
  t.add("ArgMax", arg_kernel<true>);
  t.add("ArgMin", arg_kernel<false>);
}
}  // namespace r1::cpu
