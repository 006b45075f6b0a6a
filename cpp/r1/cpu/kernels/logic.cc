// CPU kernels of the logic and bit ops: And, Or, Xor, Not (bool, And/Or/Xor with numpy broadcasting)
// and BitShift, BitwiseAnd / Or / Xor / Not (integer types). The binary ones share ew::binary_apply with
// elementwise_binary.cc. Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <type_traits>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

using ew::binary_apply;
using ew::map_unary;

// Shifts by an amount outside [0, bits) give 0 (LEFT) or the sign fill (RIGHT, arithmetic for
// signed types), as the ONNX conformance cases define.
void bitshift(KernelContext& ctx) {
  const bool left = ctx.attrs().get_string("direction", "LEFT") == "LEFT";
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      constexpr int64_t bits = 8 * sizeof(T);
      if (left)
        binary_apply<T, T, T>(ctx.pool(), a, b, y, [](T u, T v) {
          const int64_t k = static_cast<int64_t>(v);
          return (k < 0 || k >= bits) ? T(0) : static_cast<T>(static_cast<U>(static_cast<U>(u) << k));
        });
      else
        binary_apply<T, T, T>(ctx.pool(), a, b, y, [](T u, T v) {
          const int64_t k = static_cast<int64_t>(v);
          if (k < 0 || k >= bits) return u < T(0) ? static_cast<T>(-1) : T(0);
          return static_cast<T>(u >> k);
        });
    } else {
      R1_THROW(InputError) << "BitShift needs integer tensors";
    }
  });
}

template <class F>
void logic(KernelContext& ctx, F f) {
  binary_apply<bool, bool, bool>(ctx.pool(), ctx.input(0), ctx.input(1), ctx.output(0), f);
}
void and_k(KernelContext& ctx) {
  logic(ctx, [](bool u, bool v) { return u && v; });
}
void or_k(KernelContext& ctx) {
  logic(ctx, [](bool u, bool v) { return u || v; });
}
void xor_k(KernelContext& ctx) {
  logic(ctx, [](bool u, bool v) { return u != v; });
}

void not_k(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  map_unary(ctx.pool(), x.data<bool>(), y.data<bool>(), x.numel(), [](bool v) { return !v; });
}

template <class F>
void bitwise(KernelContext& ctx, F f) {
  ew::dispatch_num(ctx.input(0).dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      binary_apply<T, T, T>(ctx.pool(), ctx.input(0), ctx.input(1), ctx.output(0),
                            [f](T u, T v) { return static_cast<T>(f(u, v)); });
    } else {
      R1_THROW(InputError) << ctx.node().op_type << " needs integer tensors";
    }
  });
}
void bitwise_and(KernelContext& ctx) {
  bitwise(ctx, [](auto u, auto v) { return u & v; });
}
void bitwise_or(KernelContext& ctx) {
  bitwise(ctx, [](auto u, auto v) { return u | v; });
}
void bitwise_xor(KernelContext& ctx) {
  bitwise(ctx, [](auto u, auto v) { return u ^ v; });
}
void bitwise_not(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  ew::dispatch_num(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      map_unary(ctx.pool(), x.data<T>(), y.data<T>(), x.numel(), [](T v) { return static_cast<T>(~v); });
    } else {
      R1_THROW(InputError) << "BitwiseNot needs integer tensors";
    }
  });
}

}  // namespace

void register_logic_kernels(KernelTable& t) {
  t.add("And", and_k);
  t.add("Or", or_k);
  t.add("Xor", xor_k);
  t.add("Not", not_k);
  t.add("BitShift", bitshift);
  t.add("BitwiseAnd", bitwise_and);
  t.add("BitwiseOr", bitwise_or);
  t.add("BitwiseXor", bitwise_xor);
  t.add("BitwiseNot", bitwise_not);
}
}  // namespace r1::cpu
