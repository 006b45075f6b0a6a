// CPU kernels of the random generators and SwiGLU. With a seed attribute a node draws the same values on
// every run (a generator seeded per run: reproducible); without one, from a fresh random seed each run.
#include <cmath>
#include <random>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

std::mt19937_64 generator(const KernelContext& ctx) {
  if (ctx.attrs().has("seed")) {
    float seed = ctx.attrs().get_float("seed", 0.0f);
    return std::mt19937_64(static_cast<uint64_t>(static_cast<int64_t>(seed * 1000003.0)) ^ 0x9e3779b97f4a7c15ULL);
  }
  return std::mt19937_64(std::random_device{}());
}

// Writes values drawn in double into a float tensor of any float dtype (float64 included).
template <class Draw>
void fill(Tensor& y, Draw draw) {
  if (y.dtype() == DType::Float64) {
    double* p = y.data<double>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] = draw(i);
    return;
  }
  dispatch_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] = static_cast<T>(static_cast<float>(draw(i)));
  });
}

void random_normal(KernelContext& ctx) {
  std::mt19937_64 g = generator(ctx);
  std::normal_distribution<double> d(ctx.attrs().get_float("mean", 0.0f), ctx.attrs().get_float("scale", 1.0f));
  fill(ctx.output(0), [&](int64_t) { return d(g); });
}

void random_uniform(KernelContext& ctx) {
  std::mt19937_64 g = generator(ctx);
  double lo = ctx.attrs().get_float("low", 0.0f), hi = ctx.attrs().get_float("high", 1.0f);
  R1_CHECK(lo <= hi, InputError) << ctx.node().op_type << ": low " << lo << " is above high " << hi;
  std::uniform_real_distribution<double> d(lo, hi);
  fill(ctx.output(0), [&](int64_t) { return d(g); });
}

std::vector<double> doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::Float64) {
    std::copy(t.data<double>(), t.data<double>() + t.numel(), v.begin());
  } else {
    std::vector<float> f = to_floats(t);
    std::copy(f.begin(), f.end(), v.begin());
  }
  return v;
}

// 1 with probability p[i] (checked to lie in [0, 1]), in the output's dtype.
void bernoulli(KernelContext& ctx) {
  std::vector<double> p = doubles(ctx.input(0));
  for (double v : p) R1_CHECK(v >= 0 && v <= 1, InputError) << "Bernoulli: probability " << v << " is not in [0, 1]";
  std::mt19937_64 g = generator(ctx);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> draws(p.size());
  for (size_t i = 0; i < p.size(); ++i) draws[i] = u(g) < p[i] ? 1.0 : 0.0;
  Tensor& y = ctx.output(0);
  if (is_float(y.dtype()) || y.dtype() == DType::Float64) {
    fill(y, [&](int64_t i) { return draws[i]; });
    return;
  }
  dispatch_all(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_arithmetic_v<T>) {
      T* py = y.data<T>();
      for (size_t i = 0; i < draws.size(); ++i) py[i] = static_cast<T>(draws[i]);
    } else {
      R1_THROW(InputError) << "Bernoulli of dtype " << dtype_name(y.dtype()) << " is not supported";
    }
  });
}

// sample_size class indices per row, drawn from softmax(row) (the input is unnormalized log-probabilities).
void multinomial(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t B = x.shape()[0], C = x.shape()[1], n = ctx.attrs().get_int("sample_size", 1);
  std::vector<float> v = to_floats(x);
  std::mt19937_64 g = generator(ctx);
  Tensor& y = ctx.output(0);
  std::vector<double> w(static_cast<size_t>(C));
  for (int64_t b = 0; b < B; ++b) {
    double m = -INFINITY;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(v[b * C + c]));
    for (int64_t c = 0; c < C; ++c) w[c] = std::exp(v[b * C + c] - m);
    std::discrete_distribution<int64_t> d(w.begin(), w.end());
    for (int64_t k = 0; k < n; ++k) {
      int64_t s = d(g);
      if (y.dtype() == DType::Int64)
        y.data<int64_t>()[b * n + k] = s;
      else
        y.data<int32_t>()[b * n + k] = static_cast<int32_t>(s);
    }
  }
}

// Y = A * sigmoid(alpha * A) * B.
void swiglu(KernelContext& ctx) {
  float alpha = ctx.attrs().get_float("alpha", 1.0f);
  std::vector<float> a = to_floats(ctx.input(0)), b = to_floats(ctx.input(1)), y(a.size());
  R1_CHECK(a.size() == b.size(), InputError) << "SwiGLU: A and B differ in size";
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] / (1.0f + std::exp(-alpha * a[i])) * b[i];
  store_float(y.data(), ctx.output(0), ctx.pool());
}

}  // namespace

void register_random_kernels(KernelTable& t) {
  t.add("RandomNormal", random_normal);
  t.add("RandomUniform", random_uniform);
  t.add("RandomNormalLike", random_normal);
  t.add("RandomUniformLike", random_uniform);
  t.add("Bernoulli", bernoulli);
  t.add("Multinomial", multinomial);
  t.add("SwiGLU", swiglu);
}
}  // namespace r1::cpu
