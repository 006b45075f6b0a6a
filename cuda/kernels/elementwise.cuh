// The one elementwise template: a unary and a broadcasting binary kernel, over every float dtype,
// parameterised by an op functor (ew_ops.cuh). Each ONNX op is an instantiation:
//
//   table.add("Exp", unary_entry<ops::Exp>);            // float32 / float16 / bfloat16
//   table.add("Add", binary_entry<ops::Add>);           // numpy broadcasting
//   table.add("Less", binary_entry<ops::Less, Bool>);   // bool output
//   table.add("Max", variadic_entry<ops::Max>);         // any number of inputs
//
// Broadcasting: the output is walked in order; each input has a stride per output dim (0 along a
// broadcast dim). Dims whose strides line up are merged first, so a bias add over [B, S, H] is a
// rank-2 walk. Inputs whose shape equals the output's take the flat path (no index arithmetic).
#pragma once
#include <string>

#include "../common.cuh"
#include "../device.h"
#include "ew_ops.cuh"
#include "types.cuh"

namespace r1::gpu {

constexpr int kMaxRank = 8;
struct Walk {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t sa[kMaxRank] = {};  // strides of input a along each output dim
  int64_t sb[kMaxRank] = {};
};

// The strides with which inputs of shapes a and b are read along `out`, merged where possible.
inline Walk make_walk(const Shape& a, const Shape& b, const Shape& out) {
  const int r = static_cast<int>(out.size());
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  auto fill = [&](const Shape& in, std::vector<int64_t>& s) {
    int64_t stride = 1;
    for (int d = static_cast<int>(in.size()) - 1, o = r - 1; d >= 0; --d, --o) {
      s[o] = in[d] == 1 && out[o] != 1 ? 0 : stride;
      stride *= in[d];
    }
  };
  fill(a, sa);
  fill(b, sb);
  Walk w;
  for (int o = 0; o < r; ++o) {
    if (out[o] == 1) continue;  // contributes nothing to any index
    if (w.rank > 0) {
      int p = w.rank - 1;  // merge into the previous dim when both inputs continue it
      if (w.sa[p] == sa[o] * out[o] && w.sb[p] == sb[o] * out[o]) {
        w.dims[p] *= out[o];
        w.sa[p] = sa[o];
        w.sb[p] = sb[o];
        continue;
      }
    }
    R1_CHECK(w.rank < kMaxRank, InputError) << "broadcast over more than " << kMaxRank << " non-mergeable dims";
    w.dims[w.rank] = out[o];
    w.sa[w.rank] = sa[o];
    w.sb[w.rank] = sb[o];
    ++w.rank;
  }
  return w;
}

template <class In, class Out, class Op>
__global__ void unary_kernel(const typename In::storage* x, typename Out::storage* y, int64_t n, Op op) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = Out::store(op(In::load(x[i])));
}

template <class In, class Out, class Op, bool kBroadcast>
__global__ void binary_kernel(const typename In::storage* a, const typename In::storage* b, typename Out::storage* y,
                              int64_t n, Op op, Walk w) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia = i, ib = i;
    if (kBroadcast) {
      ia = 0;
      ib = 0;
      int64_t rest = i;
#pragma unroll
      for (int d = kMaxRank - 1; d >= 0; --d) {
        if (d >= w.rank) continue;
        int64_t q = rest / w.dims[d];
        int64_t c = rest - q * w.dims[d];
        rest = q;
        ia += c * w.sa[d];
        ib += c * w.sb[d];
      }
    }
    y[i] = Out::store(op(In::load(a[ia]), In::load(b[ib])));
  }
}

template <class In, class Out, class Op>
void launch_unary(const Tensor& x, Tensor& y, Op op, gpuStream_t s) {
  int64_t n = y.numel();
  if (n == 0) return;
  unary_kernel<In, Out, Op><<<blocks_for(n), kThreads, 0, s>>>(data_of<In>(x), data_of<Out>(y), n, op);
  R1_GPU_CHECK_LAUNCH();
}

template <class In, class Out, class Op>
void launch_binary(const Tensor& a, const Tensor& b, Tensor& y, Op op, gpuStream_t s) {
  int64_t n = y.numel();
  if (n == 0) return;
  if (a.shape() == y.shape() && b.shape() == y.shape()) {
    binary_kernel<In, Out, Op, false>
        <<<blocks_for(n), kThreads, 0, s>>>(data_of<In>(a), data_of<In>(b), data_of<Out>(y), n, op, Walk{});
  } else {
    Walk w = make_walk(a.shape(), b.shape(), y.shape());
    binary_kernel<In, Out, Op, true>
        <<<blocks_for(n), kThreads, 0, s>>>(data_of<In>(a), data_of<In>(b), data_of<Out>(y), n, op, w);
  }
  R1_GPU_CHECK_LAUNCH();
}

inline void check_same_dtype(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  R1_CHECK(a.dtype() == b.dtype(), InputError) << "node " << ctx.node().label() << ": inputs have different dtypes ("
                                               << dtype_name(a.dtype()) << " and " << dtype_name(b.dtype()) << ")";
}

// Kernel entries (KernelFn). Out = void: the output has the input's dtype.
template <class Op, class Out = void>
void unary_entry(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  Op op = Op::make(ctx.attrs());
  dispatch_float_types(x.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    using O = std::conditional_t<std::is_void_v<Out>, T, Out>;
    launch_unary<T, O>(x, y, op, env.stream());
  });
}

template <class Op, class Out = void>
void binary_entry(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  Op op = Op::make(ctx.attrs());
  dispatch_float_types(a.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    using O = std::conditional_t<std::is_void_v<Out>, T, Out>;
    launch_binary<T, O>(a, b, y, op, env.stream());
  });
}

// Max, Min, Sum, Mean: folds the inputs left to right into the output, which has the broadcast
// shape of all of them; the running result is read in place (same index, same thread).
template <class Op, bool kMean = false>
void variadic_entry(KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  const Tensor& x0 = ctx.input(0);
  for (size_t i = 1; i < n; ++i) check_same_dtype(ctx, x0, ctx.input(i));
  dispatch_float_types(x0.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    Op op = Op::make(ctx.attrs());
    if (n == 1)
      launch_unary<T, T>(x0, y, ops::Identity{}, env.stream());
    else
      launch_binary<T, T>(x0, ctx.input(1), y, op, env.stream());
    for (size_t i = 2; i < n; ++i) launch_binary<T, T>(y, ctx.input(i), y, op, env.stream());
    if (kMean && n > 1) launch_unary<T, T>(y, y, ops::Scale{1.0f / static_cast<float>(n)}, env.stream());
  });
}

}  // namespace r1::gpu
