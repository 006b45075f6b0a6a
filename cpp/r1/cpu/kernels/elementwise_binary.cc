// CPU kernels of the broadcasting binary ops (Add, Sub, Mul, Div, Pow, Mod, PRelu), the variadic
// Max/Min/Sum/Mean and the comparisons. All share ew::binary_apply (so do And/Or/Xor/BitShift: logic.cc).
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cmath>
#include <string>
#include <limits>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

using ew::binary_apply;

// Output 0 = f(input 0, input 1), both of dtype T; f gets compute_t<T> values.
template <class F>
void numeric_binary(KernelContext& ctx, F f) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    binary_apply<T, T, T>(ctx.pool(), a, b, y, f);
  });
}

void add(KernelContext& ctx) {
  numeric_binary(ctx, [](auto u, auto v) { return ew::wrap_add(u, v); });
}
void sub(KernelContext& ctx) {
  numeric_binary(ctx, [](auto u, auto v) { return ew::wrap_sub(u, v); });
}
void mul(KernelContext& ctx) {
  numeric_binary(ctx, [](auto u, auto v) { return ew::wrap_mul(u, v); });
}

// Integer division truncates toward zero (C semantics, as the ONNX conformance cases expect);
// division by zero gives 0 instead of trapping, and MIN / -1 wraps.
template <class C>
inline C int_div(C a, C b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return ew::wrap_sub(C(0), a);
  }
  return static_cast<C>(a / b);
}

void div(KernelContext& ctx) {
  numeric_binary(ctx, [](auto u, auto v) {
    using C = decltype(u);
    if constexpr (std::is_integral_v<C>)
      return int_div(u, v);
    else
      return u / v;
  });
}

void mod(KernelContext& ctx) {
  const bool fmod = ctx.attrs().get_int("fmod", 0) != 0;
  if (fmod) {
    numeric_binary(ctx, [](auto u, auto v) {
      using C = decltype(u);
      if constexpr (std::is_integral_v<C>) {
        if (v == 0) return C(0);
        if constexpr (std::is_signed_v<C>) {
          if (v == -1) return C(0);
        }
        return static_cast<C>(u % v);
      } else {
        return std::fmod(u, v);
      }
    });
  } else {
    // numpy/python modulo: the result takes the divisor's sign.
    numeric_binary(ctx, [](auto u, auto v) {
      using C = decltype(u);
      if constexpr (std::is_integral_v<C>) {
        if (v == 0) return C(0);
        if constexpr (std::is_signed_v<C>) {
          if (v == -1) return C(0);
          C r = static_cast<C>(u % v);
          if (r != 0 && ((r < 0) != (v < 0))) r = static_cast<C>(r + v);
          return r;
        } else {
          return static_cast<C>(u % v);
        }
      } else {
        C r = std::fmod(u, v);
        if (r != 0) {
          if ((r < 0) != (v < 0)) r += v;
        } else {
          r = std::copysign(C(0), v);
        }
        return r;
      }
    });
  }
}

void prelu(KernelContext& ctx) {
  numeric_binary(ctx, [](auto x, auto s) {
    using C = decltype(x);
    return x < C(0) ? ew::wrap_mul(x, s) : x;
  });
}

// ---- Pow: base and exponent may differ in dtype; the output has the base's dtype.
template <class C>
inline C int_pow(C base, int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<C>) {
      if (base == -1) return (e & 1) ? C(-1) : C(1);
    }
    return 0;
  }
  C r = 1;
  while (e) {
    if (e & 1) r = ew::wrap_mul(r, base);
    base = ew::wrap_mul(base, base);
    e >>= 1;
  }
  return r;
}

template <class C>
inline C int_from_double(double v) {
  if (!(v == v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<C>::lowest())) return std::numeric_limits<C>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<C>::max())) return std::numeric_limits<C>::max();
  return static_cast<C>(v);
}

void pow_k(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Tensor& b0 = ctx.input(1);
  ThreadPool& pool = ctx.pool();
  // Float base: exponent as float32 (or the base's own dtype); integer base: exponent as int64,
  // or float32 when the exponent is a float.
  Tensor b = b0;
  if (b0.dtype() != a.dtype()) {
    DType want = (is_float(a.dtype()) || is_float(b0.dtype())) ? DType::Float32 : DType::Int64;
    if (b0.dtype() != want) b = cast_tensor(b0, want, pool);
  }
  if (is_float(a.dtype())) {
    if (b.numel() == 1 && a.numel() == y.numel()) {
      // Common constant exponents (x^2 in normalizations) avoid pow().
      const double e = b.scalar_as_double(0);
      dispatch_float(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* px = a.data<T>();
        T* py = y.data<T>();
        if (e == 2.0)
          ew::map_unary(pool, px, py, a.numel(), [](float v) { return v * v; });
        else if (e == 1.0)
          ew::map_unary(pool, px, py, a.numel(), [](float v) { return v; });
        else if (e == 3.0)
          ew::map_unary(pool, px, py, a.numel(), [](float v) { return v * v * v; });
        else if (e == 0.5)
          ew::map_unary(pool, px, py, a.numel(), [](float v) { return std::sqrt(v); });
        else if (e == -1.0)
          ew::map_unary(pool, px, py, a.numel(), [](float v) { return 1.0f / v; });
        else {
          const float ef = static_cast<float>(e);
          ew::map_unary(pool, px, py, a.numel(), [ef](float v) { return std::pow(v, ef); });
        }
      });
      return;
    }
    dispatch_float(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      auto f = [](float u, float v) { return std::pow(u, v); };
      if (b.dtype() == a.dtype())
        binary_apply<T, T, T>(pool, a, b, y, f);
      else
        binary_apply<T, float, T>(pool, a, b, y, f);
    });
    return;
  }
  ew::dispatch_num(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      if (b.dtype() == DType::Float32) {
        binary_apply<T, float, T>(pool, a, b, y, [](T u, float v) {
          return int_from_double<T>(std::pow(static_cast<double>(u), static_cast<double>(v)));
        });
      } else if (b.dtype() == a.dtype()) {
        binary_apply<T, T, T>(pool, a, b, y, [](T u, T v) { return int_pow<T>(u, static_cast<int64_t>(v)); });
      } else {
        binary_apply<T, int64_t, T>(pool, a, b, y, [](T u, int64_t v) { return int_pow<T>(u, v); });
      }
    }
  });
}

// ---- Variadic Max/Min/Sum/Mean: y = in0 op in1, then y = y op in_k.
template <class F>
void variadic(KernelContext& ctx, F f, bool mean) {
  Tensor& y = ctx.output(0);
  size_t n = ctx.num_inputs();
  ew::dispatch_num(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    if (n == 1) {
      const Tensor& x = ctx.input(0);
      ew::map_unary(ctx.pool(), x.data<T>(), y.data<T>(), y.numel(), [](C v) { return v; });
    } else {
      binary_apply<T, T, T>(ctx.pool(), ctx.input(0), ctx.input(1), y, f);
      for (size_t k = 2; k < n; ++k) binary_apply<T, T, T>(ctx.pool(), y, ctx.input(k), y, f);
    }
    if (mean) {
      if constexpr (std::is_floating_point_v<C>) {
        const C inv = C(1) / static_cast<C>(n);
        ew::map_unary(ctx.pool(), y.data<T>(), y.data<T>(), y.numel(), [inv](C v) { return v * inv; });
      }
    }
  });
}

template <class C>
inline C max_nan(C u, C v) {
  if constexpr (std::is_floating_point_v<C>) {
    if (u != u) return u;
  }
  return u > v ? u : v;
}
template <class C>
inline C min_nan(C u, C v) {
  if constexpr (std::is_floating_point_v<C>) {
    if (u != u) return u;
  }
  return u < v ? u : v;
}

void max_k(KernelContext& ctx) {
  variadic(ctx, [](auto u, auto v) { return max_nan(u, v); }, false);
}
void min_k(KernelContext& ctx) {
  variadic(ctx, [](auto u, auto v) { return min_nan(u, v); }, false);
}
void sum_k(KernelContext& ctx) {
  variadic(ctx, [](auto u, auto v) { return ew::wrap_add(u, v); }, false);
}
void mean_k(KernelContext& ctx) {
  variadic(ctx, [](auto u, auto v) { return ew::wrap_add(u, v); }, true);
}

// ---- comparisons (bool output).
template <class F>
void compare(KernelContext& ctx, F f) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  dispatch_all(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    binary_apply<T, T, bool>(ctx.pool(), a, b, y, f);
  });
}

// Equal of two string tensors (numpy broadcasting).
void equal_strings(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  R1_CHECK(b.dtype() == DType::String, InputError) << "Equal of string and " << dtype_name(b.dtype());
  BroadcastMap m(y.shape(), {a.shape(), b.shape()});
  std::vector<int64_t> offs(2);
  const std::string* pa = a.data<std::string>();
  const std::string* pb = b.data<std::string>();
  bool* py = y.data<bool>();
  for (int64_t r = 0; r < m.rows(); ++r) {
    m.row_offsets(r, offs.data());
    for (int64_t j = 0; j < m.row_len(); ++j)
      py[r * m.row_len() + j] = pa[offs[0] + j * m.steps()[0]] == pb[offs[1] + j * m.steps()[1]];
  }
}

void equal(KernelContext& ctx) {
  if (ctx.input(0).dtype() == DType::String) return equal_strings(ctx);
  compare(ctx, [](auto u, auto v) { return u == v; });
}
void less(KernelContext& ctx) {
  compare(ctx, [](auto u, auto v) { return u < v; });
}
void greater(KernelContext& ctx) {
  compare(ctx, [](auto u, auto v) { return u > v; });
}
void less_equal(KernelContext& ctx) {
  compare(ctx, [](auto u, auto v) { return u <= v; });
}
void greater_equal(KernelContext& ctx) {
  compare(ctx, [](auto u, auto v) { return u >= v; });
}

}  // namespace

// in_place(3u) for Add, Sub, Mul and Div: they run ew::binary_apply, where an operand with the output's
// shape is read at the very index (flat loop) or row (broadcast loop) being written, and the other
// operand is a scalar or a broadcast row read before the write, or lives in other memory (the plan
// recorder checks that). Not Pow (it may cast its exponent into a temporary: fine, but unverified for
// ints), nor the variadic Sum/Max/Min/Mean (they accumulate into the output and read input k >= 2
// after the first write).
void register_elementwise_binary_kernels(KernelTable& t) {
  t.add("Add", add).in_place(3u);
  t.add("Sub", sub).in_place(3u);
  t.add("Mul", mul).in_place(3u);
  t.add("Div", div).in_place(3u);
  t.add("Mod", mod);
  t.add("Pow", pow_k);
  t.add("PRelu", prelu);
  t.add("Max", max_k);
  t.add("Min", min_k);
  t.add("Sum", sum_k);
  t.add("Mean", mean_k);
  t.add("Equal", equal);
  t.add("Less", less);
  t.add("Greater", greater);
  t.add("LessOrEqual", less_equal);
  t.add("GreaterOrEqual", greater_equal);
}

}  // namespace r1::cpu
