// Loop skeletons shared by the elementwise CPU kernels (elementwise_unary, activation, gelu,
// elementwise_binary, logic, cast, where).
//
//   map_unary(pool, x.data<T>(), y.data<T>(), n, [](auto v) { return v > 0 ? v : decltype(v)(0); });
//   binary_apply<T, T, bool>(pool, a, b, y, [](auto u, auto v) { return u < v; });
//
// Operators get values in compute_t<T> (float for half/bfloat16) and their result is converted to
// the output type. Binary loops coalesce broadcast dims, then take one of: same-shape flat loop,
// scalar-operand flat loop, or rows of the output's last (coalesced) dim with stride 0/1 inner
// loops specialised so the compiler vectorizes them. Everything is parallel over the pool.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/elementwise_math.h"
#include "r1/ir/attribute.h"

namespace r1::cpu {

// A fresh tensor of dtype `to` holding x converted elementwise (ONNX Cast semantics; cast.cc).
Tensor cast_tensor(const Tensor& x, DType to, ThreadPool& pool);

namespace ew {

// Like dispatch_numeric, but never instantiates f for bool.
template <class F>
void dispatch_num(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      f(float{});
      return;
    case DType::Float16:
      f(half{});
      return;
    case DType::BFloat16:
      f(bfloat16{});
      return;
    case DType::Int8:
      f(int8_t{});
      return;
    case DType::UInt8:
      f(uint8_t{});
      return;
    case DType::Int32:
      f(int32_t{});
      return;
    case DType::Int64:
      f(int64_t{});
      return;
    case DType::Int16:
      f(int16_t{});
      return;
    case DType::UInt16:
      f(uint16_t{});
      return;
    case DType::UInt32:
      f(uint32_t{});
      return;
    case DType::UInt64:
      f(uint64_t{});
      return;
    case DType::Float64:
      f(double{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "operation not defined for " << dtype_name(t) << " tensors";
}

inline int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(n, 1)); }

template <class In, class Out, class F>
void map_unary(ThreadPool& pool, const In* x, Out* y, int64_t n, F f) {
  if (n <= 0) return;
  const raw_t<In>* px = raw_ptr(x);
  raw_t<Out>* py = raw_ptr(y);
  pool.parallel_for(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) py[i] = store_r<Out>(f(load_r<In>(px[i])));
  });
}

// Drops output dims of size 1 and merges neighbouring dims in which every input is either
// broadcast or not, so the last dim (the inner loop) is as long as possible.
inline void coalesce_broadcast(const Shape& out, const std::vector<Shape>& ins, Shape* out_c,
                               std::vector<Shape>* ins_c) {
  int r = static_cast<int>(out.size());
  size_t k = ins.size();
  std::vector<std::vector<bool>> bc(k, std::vector<bool>(r, false));
  for (size_t j = 0; j < k; ++j) {
    int off = r - static_cast<int>(ins[j].size());
    for (int d = 0; d < r; ++d) bc[j][d] = d < off || (ins[j][d - off] == 1 && out[d] != 1);
  }
  out_c->clear();
  ins_c->assign(k, Shape());
  std::vector<bool> last(k, false);
  for (int d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    bool same = !out_c->empty();
    for (size_t j = 0; j < k && same; ++j) same = bc[j][d] == last[j];
    if (same) {
      out_c->back() *= out[d];
      for (size_t j = 0; j < k; ++j)
        if (!bc[j][d]) (*ins_c)[j].back() *= out[d];
    } else {
      out_c->push_back(out[d]);
      for (size_t j = 0; j < k; ++j) {
        (*ins_c)[j].push_back(bc[j][d] ? 1 : out[d]);
        last[j] = bc[j][d];
      }
    }
  }
}

// y = f(a, b) with numpy broadcasting of a and b to y's shape. A, B, O are element types.
// f takes (compute_t<A>, compute_t<B>).
template <class A, class B, class O, class F>
void binary_apply(ThreadPool& pool, const Tensor& a, const Tensor& b, Tensor& y, F f) {
  int64_t n = y.numel();
  if (n == 0) return;
  const raw_t<A>* pa = raw_ptr(a.data<A>());
  const raw_t<B>* pb = raw_ptr(b.data<B>());
  raw_t<O>* py = raw_ptr(y.data<O>());
  using CA = compute_t<A>;
  using CB = compute_t<B>;
  if (a.numel() == n && b.numel() == n) {
    pool.parallel_for(0, n, kGrainElementwise, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) py[i] = store_r<O>(f(load_r<A>(pa[i]), load_r<B>(pb[i])));
    });
    return;
  }
  if (a.numel() == 1 && b.numel() == n) {
    const CA u = load_r<A>(pa[0]);
    pool.parallel_for(0, n, kGrainElementwise, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) py[i] = store_r<O>(f(u, load_r<B>(pb[i])));
    });
    return;
  }
  if (b.numel() == 1 && a.numel() == n) {
    const CB v = load_r<B>(pb[0]);
    pool.parallel_for(0, n, kGrainElementwise, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) py[i] = store_r<O>(f(load_r<A>(pa[i]), v));
    });
    return;
  }
  Shape oc;
  std::vector<Shape> ic;
  coalesce_broadcast(y.shape(), {a.shape(), b.shape()}, &oc, &ic);
  BroadcastMap m(oc, ic);
  const int64_t len = m.row_len();
  const int64_t sa = m.steps()[0], sb = m.steps()[1];
  pool.parallel_for(0, m.rows(), row_grain(len), [&](int64_t r0, int64_t r1) {
    int64_t offs[2];
    for (int64_t r = r0; r < r1; ++r) {
      m.row_offsets(r, offs);
      const raw_t<A>* x = pa + offs[0];
      const raw_t<B>* z = pb + offs[1];
      raw_t<O>* o = py + r * len;
      if (sa && sb) {
        for (int64_t i = 0; i < len; ++i) o[i] = store_r<O>(f(load_r<A>(x[i]), load_r<B>(z[i])));
      } else if (sb) {
        const CA u = load_r<A>(x[0]);
        for (int64_t i = 0; i < len; ++i) o[i] = store_r<O>(f(u, load_r<B>(z[i])));
      } else if (sa) {
        const CB v = load_r<B>(z[0]);
        for (int64_t i = 0; i < len; ++i) o[i] = store_r<O>(f(load_r<A>(x[i]), v));
      } else {
        const raw_t<O> w = store_r<O>(f(load_r<A>(x[0]), load_r<B>(z[0])));
        for (int64_t i = 0; i < len; ++i) o[i] = w;
      }
    }
  });
}

// Integer arithmetic that wraps instead of overflowing (signed overflow is undefined in C++).
template <class C>
inline C wrap_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <class C>
inline C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <class C>
inline C wrap_mul(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;  // no int promotion
    return static_cast<C>(static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  } else {
    return a * b;
  }
}

// Unary kernels from functors (elementwise_unary.cc, activation.cc). Float ops: a functor built from the
// node's attributes, called with float values.
#define R1_SIMPLE_FLOAT_OP(Name, expr)                 \
  struct Name {                                        \
    explicit Name(const AttributeMap&) {}              \
    float operator()(float x) const { return (expr); } \
  };

template <class Op>
void float_unary(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  Op op(ctx.attrs());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), [op](float v) { return op(v); });
  });
}

// Numeric ops: generic lambdas over compute_t<T>.
template <class F>
void numeric_unary(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), f);
  });
}

}  // namespace ew
}  // namespace r1::cpu
