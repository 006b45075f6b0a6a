// CPU kernels of the normalizations: LayerNormalization, BatchNormalization (inference),
// InstanceNormalization, GroupNormalization, LpNormalization, MeanVarianceNormalization.
// Statistics are computed in double from float rows (two passes); rows are parallel.
#include <cmath>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/reduce_simd.h"

namespace r1::cpu {
namespace {

// Any float tensor as a float vector.
std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> v(t.numel());
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<float>(p[i]);
  });
  return v;
}

// t (unidirectionally broadcastable to `shape`) expanded to numel(shape) floats.
std::vector<float> expand_to(const Tensor& t, const Shape& shape, const char* what) {
  std::vector<float> src = to_floats(t);
  int64_t n = numel(shape);
  if (static_cast<int64_t>(src.size()) == n) return src;
  const Shape& ts = t.shape();
  R1_CHECK(ts.size() <= shape.size(), InputError)
      << what << " of shape " << shape_str(ts) << " does not broadcast to " << shape_str(shape);
  size_t off = shape.size() - ts.size();
  std::vector<int64_t> st(shape.size(), 0);
  int64_t stride = 1;
  for (size_t d = ts.size(); d-- > 0;) {
    R1_CHECK(ts[d] == shape[d + off] || ts[d] == 1, InputError)
        << what << " of shape " << shape_str(ts) << " does not broadcast to " << shape_str(shape);
    st[d + off] = ts[d] == 1 ? 0 : stride;
    stride *= ts[d];
  }
  std::vector<float> out(n);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d) o += idx[d] * st[d];
    out[i] = src[o];
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

bool use_avx512() {
  static const bool v = cpu_features().has_avx512_kernels();
  return v;
}

// Mean and variance of a row, accumulated in double (AVX-512 in norm_avx512.cc where available).
inline void mean_var(const float* x, int64_t n, double* mean, double* var) {
  if (use_avx512() && n > 0) {
    *mean = row_sum_avx512(x, n) / static_cast<double>(n);
    *var = row_sq_dev_avx512(x, n, *mean) / static_cast<double>(n);
  } else {
    simd::row_mean_var_fast(x, n, mean, var);
  }
}

// y = (x - mean) * inv * scale + bias over one row (scale/bias may be null = 1/0).
template <class T>
inline void normalize_row(const float* x, T* y, int64_t n, float mean, float inv, const float* scale,
                          const float* bias) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx512())
      normalize_row_avx512(x, y, n, mean, inv, scale, bias);
    else
      simd::normalize_row_f(x, y, n, mean, inv, scale, bias);
  } else {
    for (int64_t j = 0; j < n; ++j) {
      float v = (x[j] - mean) * inv;
      if (scale) v *= scale[j];
      if (bias) v += bias[j];
      y[j] = convert<T>(v);
    }
  }
}

void layernorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int rank = x.rank();
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const Shape& s = x.shape();
  Shape ns(s.begin() + axis, s.end());
  int64_t rows = 1, n = numel(ns);
  for (int i = 0; i < axis; ++i) rows *= s[i];
  Tensor& y = ctx.output(0);
  std::vector<float> scale = expand_to(ctx.input(1), ns, "LayerNormalization scale");
  std::vector<float> bias;
  if (ctx.has_input(2)) bias = expand_to(ctx.input(2), ns, "LayerNormalization bias");
  float* pm = ctx.has_output(1) ? ctx.output(1).data<float>() : nullptr;
  float* pi = ctx.has_output(2) ? ctx.output(2).data<float>() : nullptr;
  if (y.numel() == 0 && n == 0) {
    for (int64_t r = 0; r < rows; ++r) {
      if (pm) pm[r] = 0;
      if (pi) pi[r] = 1.0f / std::sqrt(eps);
    }
    return;
  }
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const float* sc = scale.data();
    const float* bi = bias.empty() ? nullptr : bias.data();
    ctx.pool().parallel_for(0, rows, grain_for(n * 4), [&](int64_t b, int64_t e) {
      std::vector<float> tmp;
      for (int64_t r = b; r < e; ++r) {
        const float* xr = row_as_float(px + r * n, n, tmp);
        double mean, var;
        mean_var(xr, n, &mean, &var);
        float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        normalize_row<T>(xr, py + r * n, n, static_cast<float>(mean), inv, sc, bi);
        if (pm) pm[r] = static_cast<float>(mean);
        if (pi) pi[r] = inv;
      }
    });
  });
}

void batchnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const Shape& s = x.shape();
  int64_t N = s[0], C = s[1], S = 1;
  for (int i = 2; i < x.rank(); ++i) S *= s[i];
  std::vector<float> sc = to_floats(ctx.input(1)), bi = to_floats(ctx.input(2)), mu = to_floats(ctx.input(3)),
                     va = to_floats(ctx.input(4));
  for (int i = 1; i < 5; ++i)
    R1_CHECK(ctx.input(i).numel() == C, InputError)
        << "BatchNormalization parameter " << i << " has " << ctx.input(i).numel() << " elements, expected " << C;
  std::vector<float> a(C), c(C);
  for (int64_t k = 0; k < C; ++k) {
    double inv = 1.0 / std::sqrt(static_cast<double>(va[k]) + eps);
    a[k] = static_cast<float>(sc[k] * inv);
    c[k] = static_cast<float>(bi[k] - mu[k] * sc[k] * inv);
  }
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, N * C, grain_for(S), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float ak = a[r % C], ck = c[r % C];
        const T* xr = px + r * S;
        T* yr = py + r * S;
        for (int64_t j = 0; j < S; ++j) yr[j] = convert<T>(static_cast<float>(xr[j]) * ak + ck);
      }
    });
  });
}

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

void register_reduce_norm_kernels(KernelTable& t) {
  t.add("LayerNormalization", layernorm_kernel);
  t.add("BatchNormalization", batchnorm_kernel);
  t.add("InstanceNormalization", instancenorm_kernel);
  t.add("GroupNormalization", groupnorm_kernel);
  t.add("LpNormalization", lpnorm_kernel);
  t.add("MeanVarianceNormalization", mvn_kernel);
}
}  // namespace r1::cpu
