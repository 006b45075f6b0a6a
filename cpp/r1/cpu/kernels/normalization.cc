// CPU kernels of InstanceNormalization, GroupNormalization, LpNormalization and
// MeanVarianceNormalization (LayerNormalization and BatchNormalization have files of their own).
// Statistics are computed in double from float rows (two passes); rows are parallel.
#include <algorithm>
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// Instance (groups == C) and group normalization: statistics over each (n, group) block of
// `gs` channels times S spatial elements; per-channel scale/bias.
void group_norm(KernelContext& ctx, int64_t G, const std::vector<float>& scale, const std::vector<float>& bias) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const Shape& s = x.shape();
  int64_t N = s[0], C = s[1], S = 1;
  for (int i = 2; i < x.rank(); ++i) S *= s[i];
  int64_t gs = C / G, n = gs * S;
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, N * G, grain_for(n * 4), [&](int64_t b, int64_t e) {
      std::vector<float> tmp;
      for (int64_t r = b; r < e; ++r) {
        const float* xr = row_as_float(px + r * n, n, tmp);
        double mean, var;
        mean_var(xr, n, &mean, &var);
        float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        float m = static_cast<float>(mean);
        int64_t c0 = (r % G) * gs;
        for (int64_t c = 0; c < gs; ++c) {
          float a = inv * scale[c0 + c], bb = bias[c0 + c] - m * inv * scale[c0 + c];
          const float* xc = xr + c * S;
          T* yc = py + r * n + c * S;
          for (int64_t j = 0; j < S; ++j) yc[j] = convert<T>(xc[j] * a + bb);
        }
      }
    });
  });
}

void instancenorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t C = x.shape()[1];
  std::vector<float> sc = to_floats(ctx.input(1)), bi = to_floats(ctx.input(2));
  R1_CHECK(static_cast<int64_t>(sc.size()) == C && static_cast<int64_t>(bi.size()) == C, InputError)
      << "InstanceNormalization scale and B need " << C << " elements";
  group_norm(ctx, C, sc, bi);
}

void groupnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t C = x.shape()[1];
  int64_t G = ctx.attrs().get_int("num_groups", 0);
  R1_CHECK(G > 0 && C % G == 0, InputError) << "channels " << C << " not divisible by num_groups " << G;
  std::vector<float> sc = to_floats(ctx.input(1)), bi = to_floats(ctx.input(2));
  auto per_channel = [&](std::vector<float> v, const char* what) {
    if (static_cast<int64_t>(v.size()) == C) return v;
    R1_CHECK(static_cast<int64_t>(v.size()) == G, InputError)
        << "GroupNormalization " << what << " has " << v.size() << " elements, expected " << C << " or " << G;
    std::vector<float> o(C);
    for (int64_t c = 0; c < C; ++c) o[c] = v[c / (C / G)];
    return o;
  };
  group_norm(ctx, G, per_channel(sc, "scale"), per_channel(bi, "bias"));
}

// Applies y = x * factor[out] over the plan (factor per reduced output position).
template <class T>
void apply_scale(const T* px, T* py, const ReducePlan& pl, const float* fac, const float* sub, ThreadPool& pool) {
  for_each_plan_run(pl, pool, [&](int64_t off, int64_t o, int64_t n, int64_t step) {
    const T* x = px + off;
    T* y = py + off;
    if (step == 0) {
      float f = fac[o], m = sub ? sub[o] : 0.0f;
      for (int64_t i = 0; i < n; ++i) y[i] = convert<T>((static_cast<float>(x[i]) - m) * f);
    } else {
      const float* F = fac + o;
      if (sub) {
        const float* M = sub + o;
        for (int64_t i = 0; i < n; ++i) y[i] = convert<T>((static_cast<float>(x[i]) - M[i]) * F[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) y[i] = convert<T>(static_cast<float>(x[i]) * F[i]);
      }
    }
  });
}

template <class T>
struct SumD {
  using Acc = double;
  static double init() { return 0; }
  static double map(T x, float) { return static_cast<double>(static_cast<float>(x)); }
  static double comb(double a, double b) { return a + b; }
};
template <class T>
struct SumSqD {
  using Acc = double;
  static double init() { return 0; }
  static double map(T x, float) {
    double v = static_cast<float>(x);
    return v * v;
  }
  static double comb(double a, double b) { return a + b; }
};
template <class T>
struct SumAbsD {
  using Acc = double;
  static double init() { return 0; }
  static double map(T x, float) { return std::fabs(static_cast<double>(static_cast<float>(x))); }
  static double comb(double a, double b) { return a + b; }
};

void lpnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int rank = x.rank();
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), std::max(rank, 1), "axis");
  int64_t p = ctx.attrs().get_int("p", 2);
  if (x.numel() == 0) return;
  std::vector<bool> mask(rank, false);
  if (rank) mask[axis] = true;
  ReducePlan pl = make_reduce_plan(x.shape(), mask);
  std::vector<float> fac(pl.out_numel());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    float* F = fac.data();
    auto w = [&](int64_t o, double a) {
      double norm = p == 1 ? a : std::sqrt(a);
      F[o] = norm == 0 ? 0.0f : static_cast<float>(1.0 / norm);
    };
    if (p == 1)
      reduce_plan<T, SumAbsD<T>>(px, pl, ctx.pool(), nullptr, w);
    else
      reduce_plan<T, SumSqD<T>>(px, pl, ctx.pool(), nullptr, w);
    apply_scale<T>(px, y.data<T>(), pl, F, nullptr, ctx.pool());
  });
}

void mvn_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int rank = x.rank();
  std::vector<int64_t> axes = ctx.attrs().get_ints("axes", {0, 2, 3});
  if (x.numel() == 0) return;
  std::vector<bool> mask(rank, false);
  for (int64_t a : axes) mask[normalize_axis(a, rank, "axes")] = true;
  ReducePlan pl = make_reduce_plan(x.shape(), mask);
  std::vector<float> mean(pl.out_numel()), fac(pl.out_numel());
  std::vector<double> sum(pl.out_numel());
  double cnt = static_cast<double>(pl.count());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    double* S = sum.data();
    float* M = mean.data();
    float* F = fac.data();
    reduce_plan<T, SumD<T>>(px, pl, ctx.pool(), nullptr, [&](int64_t o, double a) {
      S[o] = a / cnt;
      M[o] = static_cast<float>(a / cnt);
    });
    reduce_plan<T, SumSqD<T>>(px, pl, ctx.pool(), nullptr, [&](int64_t o, double a) {
      double var = a / cnt - S[o] * S[o];
      if (var < 0) var = 0;
      F[o] = static_cast<float>(1.0 / (std::sqrt(var) + 1e-9));
    });
    apply_scale<T>(px, y.data<T>(), pl, F, M, ctx.pool());
  });
}

}  // namespace

void register_normalization_kernels(KernelTable& t) {
  t.add("InstanceNormalization", instancenorm_kernel);
  t.add("GroupNormalization", groupnorm_kernel);
  t.add("LpNormalization", lpnorm_kernel);
  t.add("MeanVarianceNormalization", mvn_kernel);
}
}  // namespace r1::cpu
