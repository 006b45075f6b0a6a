// Miscellaneous GPU kernels: Hardmax, CumSum, TopK, OneHot, the generators EyeLike,
// ConstantOfShape and Range, and DepthToSpace / SpaceToDepth. The CPU kernels
// (cpp/r1/cpu/kernels/{reduce_softmax,shape_index,shape}.cc) are the reference for every result.
//
//   - Hardmax (float types): one block per row; each thread keeps the first maximum of its strided
//     slice, a shared-memory tree picks the largest value, ties to the lower index (NaN never wins;
//     a row with no value above -inf marks index 0, like the CPU).
//   - CumSum (float types accumulate in float; int32 / int64 wrap): one thread per (outer, inner)
//     lane, walking the axis in order, so sums are the CPU's, term for term.
//   - TopK (float types): one block per row sorts (value, index) pairs with a bitonic network,
//     in shared memory for rows up to kTopKSharedMax elements, else in a global scratch buffer
//     (slower). Order: larger (largest=1) or smaller value first, equal values by lower index;
//     NaN counts as larger than any number. `sorted` is ignored: the output is always sorted.
//   - OneHot: indices on the device (int8 / uint8 / int32 / int64 / float types), depth (input 1)
//     and values (input 2) on the host; the output (the dtype of values) is byte-generic.
//   - EyeLike (input 0 stays on the device: only its shape is read), ConstantOfShape (shape on
//     the host) and Range (start, limit, delta on the host): fill kernels writing the output's
//     bit pattern, any dtype (Range: float types and int8 / uint8 / int32 / int64).
//   - DepthToSpace / SpaceToDepth: a 6-D permutation, byte-generic (any dtype).
#include <cstring>
#include <type_traits>
#include <vector>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

constexpr uint32_t kIn0 = 1u << 0, kIn1 = 1u << 1, kIn2 = 1u << 2;

// Integer element types (load / store unchanged).
template <class V>
struct IntT {
  using storage = V;
  __device__ static V load(V v) { return v; }
  __device__ static V store(V v) { return v; }
};

inline unsigned grid_for_rows(int64_t rows) { return static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20)); }

// A power-of-two block size between WARP_SIZE and `cap` covering n if it can.
inline int pow2_threads(int64_t n, int cap) {
  int t = WARP_SIZE;
  while (t < n && t < cap) t *= 2;
  return t;
}

bool dtype_in(DType t, std::initializer_list<DType> set) {
  for (DType d : set)
    if (d == t) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Hardmax

constexpr int kHardmaxThreads = 256;
constexpr int64_t kNoIndex = -1;

template <class T>
__global__ void hardmax_rows(const typename T::storage* x, typename T::storage* y, int64_t rows, int64_t L,
                             int64_t inner) {
  __shared__ float sv[kHardmaxThreads];
  __shared__ int64_t si[kHardmaxThreads];
  const typename T::storage one = T::store(1.0f), zero = T::store(0.0f);
  const int tid = threadIdx.x;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = (row / inner) * L * inner + row % inner;
    float best = -INFINITY;
    int64_t bi = kNoIndex;
    for (int64_t j = tid; j < L; j += blockDim.x) {
      const float v = T::load(x[base + j * inner]);
      if (v > best) {  // first maximum of this thread's slice; NaN and -inf never qualify
        best = v;
        bi = j;
      }
    }
    sv[tid] = best;
    si[tid] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s) {
        const float ov = sv[tid + s];
        const int64_t oi = si[tid + s];
        const int64_t mi = si[tid];
        if (oi != kNoIndex && (mi == kNoIndex || ov > sv[tid] || (ov == sv[tid] && oi < mi))) {
          sv[tid] = ov;
          si[tid] = oi;
        }
      }
      __syncthreads();
    }
    const int64_t win = si[0] == kNoIndex ? 0 : si[0];
    for (int64_t j = tid; j < L; j += blockDim.x) y[base + j * inner] = j == win ? one : zero;
    __syncthreads();  // si[0] is read above before the next row overwrites it
  }
}

void hardmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const Shape& s = x.shape();
  const bool legacy = ctx.opset() < 13;
  int64_t L = 1, inner = 1;
  if (rank > 0) {  // a scalar is one row of one element
    const int axis = normalize_axis(ctx.attrs().get_int("axis", legacy ? 1 : -1), rank, "Hardmax axis");
    L = s[axis];
    for (int d = axis + 1; d < rank; ++d) (legacy ? L : inner) *= s[d];
  }
  if (x.numel() == 0) return;
  const int64_t rows = x.numel() / L;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "Hardmax", [&](auto tag) {
    using T = decltype(tag);
    hardmax_rows<T><<<grid_for_rows(rows), pow2_threads(L, kHardmaxThreads), 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(y), rows, L, inner);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// CumSum

template <class A>
__device__ A acc_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));  // wraps like the CPU's two's complement
  } else {
    return a + b;
  }
}

template <class T>
__global__ void cumsum_lanes(const typename T::storage* x, typename T::storage* y, int64_t lanes, int64_t A,
                             int64_t inner, bool exclusive, bool reverse) {
  using Acc = decltype(T::load(typename T::storage{}));
  for (int64_t lane = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; lane < lanes;
       lane += int64_t{gridDim.x} * blockDim.x) {
    const int64_t base = (lane / inner) * A * inner + lane % inner;
    Acc acc = Acc(0);
    for (int64_t kk = 0; kk < A; ++kk) {
      const int64_t at = base + (reverse ? A - 1 - kk : kk) * inner;
      const Acc v = T::load(x[at]);
      if (exclusive) {
        y[at] = T::store(acc);
        acc = acc_add(acc, v);
      } else {
        acc = acc_add(acc, v);
        y[at] = T::store(acc);
      }
    }
  }
}

bool cumsum_type(DType t) {
  return dtype_in(t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64});
}

bool cumsum_supported(const Node& n) {
  if (n.inputs.size() < 2 || !n.inputs[0] || n.outputs.empty() || !n.outputs[0]) return false;
  return cumsum_type(n.inputs[0]->dtype) && n.outputs[0]->dtype == n.inputs[0]->dtype;
}

void cumsum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> av = ctx.input(1).to_int64_vector();
  R1_CHECK(av.size() == 1, InputError) << "CumSum: axis must be a scalar";
  const int r = x.rank();
  const int ax = normalize_axis(av[0], r, "CumSum axis");
  const bool exclusive = ctx.attrs().get_int("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().get_int("reverse", 0) != 0;
  int64_t outer = 1, inner = 1;
  const int64_t A = x.shape()[ax];
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  if (y.numel() == 0) return;
  const int64_t lanes = outer * inner;
  KernelLaunch env(ctx);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    cumsum_lanes<T><<<blocks_for(lanes), kThreads, 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), lanes, A, inner,
                                                                      exclusive, reverse);
    R1_GPU_CHECK_LAUNCH();
  };
  switch (x.dtype()) {
    case DType::Float32:
      run(F32{});
      return;
    case DType::Float16:
      run(F16{});
      return;
    case DType::BFloat16:
      run(BF16{});
      return;
    case DType::Int32:
      run(IntT<int32_t>{});
      return;
    case DType::Int64:
      run(IntT<int64_t>{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "CumSum on " R1_GPU_BACKEND_NAME
                       << " supports float32, float16, bfloat16, int32 and int64, got " << dtype_name(x.dtype());
}

// ---------------------------------------------------------------------------------------------
// TopK

constexpr int kTopKSharedMax = 4096;  // P * (4 + 4) bytes = 32 KiB of shared memory at most
constexpr int kTopKThreads = 512;
constexpr int64_t kTopKScratchBytes = int64_t{256} << 20;  // global path: scratch for all blocks

// Whether entry a comes before entry b in the output. Entries at index >= L are padding: last.
__device__ bool topk_before(float av, int ai, float bv, int bi, bool largest, int L) {
  if (ai >= L || bi >= L) return ai < bi;
  const bool an = av != av, bn = bv != bv;
  if (an || bn) {
    if (an && bn) return ai < bi;
    return largest ? an : bn;  // NaN is the largest value
  }
  if (av != bv) return largest ? av > bv : av < bv;
  return ai < bi;
}

// Sorts P (a power of two) entries in `before` order; the whole block takes part.
__device__ void bitonic_sort(float* kv, int* ki, int P, int L, bool largest) {
  for (int64_t k = 2; k <= P; k <<= 1) {  // 64-bit: P may be 2^30, and k reaches 2P
    for (int j = static_cast<int>(k >> 1); j > 0; j >>= 1) {
      for (int t = threadIdx.x; t < P; t += blockDim.x) {
        const int p = t ^ j;
        if (p > t) {
          const float tv = kv[t], pv = kv[p];
          const int ti = ki[t], pi = ki[p];
          const bool up = (t & k) == 0;
          const bool swap = up ? topk_before(pv, pi, tv, ti, largest, L) : topk_before(tv, ti, pv, pi, largest, L);
          if (swap) {
            kv[t] = pv;
            kv[p] = tv;
            ki[t] = pi;
            ki[p] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
}

// One block per row (grid-stride). gkv / gki: per-block scratch of P entries in global memory, or
// nullptr to sort in dynamic shared memory.
template <class T>
__global__ void topk_rows(const typename T::storage* x, typename T::storage* vals, int64_t* idx, int64_t rows,
                          int64_t L, int64_t inner, int64_t k, int P, bool largest, float* gkv, int* gki) {
  extern __shared__ float topk_smem[];
  float* kv = gkv ? gkv + blockIdx.x * int64_t{P} : topk_smem;
  int* ki = gkv ? gki + blockIdx.x * int64_t{P} : reinterpret_cast<int*>(topk_smem + P);
  const int Li = static_cast<int>(L);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t o = row / inner, i = row % inner;
    const int64_t base = o * L * inner + i;
    for (int t = threadIdx.x; t < P; t += blockDim.x) {
      kv[t] = t < Li ? T::load(x[base + t * inner]) : 0.0f;
      ki[t] = t;
    }
    __syncthreads();
    bitonic_sort(kv, ki, P, Li, largest);
    const int64_t obase = o * k * inner + i;
    for (int64_t t = threadIdx.x; t < k; t += blockDim.x) {
      vals[obase + t * inner] = T::store(kv[t]);
      idx[obase + t * inner] = ki[t];
    }
    __syncthreads();  // the next row overwrites kv / ki
  }
}

bool topk_supported(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.size() < 2 || !n.outputs[0] || !n.outputs[1]) return false;
  const DType t = n.inputs[0]->dtype;
  return is_float(t) && n.outputs[0]->dtype == t && n.outputs[1]->dtype == DType::Int64;
}

void topk(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int rank = x.rank();
  const int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  int64_t k = 0;
  if (ctx.opset() < 10) {
    k = ctx.attrs().get_int("k", 0);
  } else {
    R1_CHECK(ctx.has_input(1), ModelError) << "TopK needs the K input from opset 10";
    std::vector<int64_t> kv = ctx.input(1).to_int64_vector();
    R1_CHECK(kv.size() == 1, InputError) << "TopK K must hold one value, got " << kv.size();
    k = kv[0];
  }
  const bool largest = ctx.attrs().get_int("largest", 1) != 0;
  const Shape& s = x.shape();
  R1_CHECK(k >= 0 && k <= s[axis], InputError) << "TopK k=" << k << " out of range for axis length " << s[axis];
  Shape os = s;
  os[axis] = k;
  Tensor& v = ctx.allocate_output(0, os, x.dtype());
  Tensor& ix = ctx.allocate_output(1, os, DType::Int64);
  if (v.numel() == 0) return;
  const int64_t L = s[axis];
  R1_CHECK(L <= (int64_t{1} << 30), InputError)
      << "TopK on " R1_GPU_BACKEND_NAME " supports axis lengths up to 2^30, got " << L;
  int64_t inner = 1;
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  const int64_t rows = x.numel() / L;
  int P = 1;
  while (P < L) P <<= 1;
  const int threads = P / 2 < WARP_SIZE ? WARP_SIZE : (P / 2 > kTopKThreads ? kTopKThreads : P / 2);
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "TopK", [&](auto tag) {
    using T = decltype(tag);
    if (P <= kTopKSharedMax) {
      const size_t smem = static_cast<size_t>(P) * (sizeof(float) + sizeof(int));
      topk_rows<T><<<grid_for_rows(rows), threads, smem, env.stream()>>>(
          data_of<T>(x), data_of<T>(v), ix.data<int64_t>(), rows, L, inner, k, P, largest, nullptr, nullptr);
      R1_GPU_CHECK_LAUNCH();
    } else {
      const int64_t per_block = int64_t{P} * static_cast<int64_t>(sizeof(float) + sizeof(int));
      int64_t blocks = kTopKScratchBytes / per_block;
      if (blocks < 1) blocks = 1;
      if (blocks > rows) blocks = rows;
      if (blocks > 65535) blocks = 65535;
      std::shared_ptr<Buffer> scratch = ctx.allocator().allocate(static_cast<size_t>(blocks * per_block));
      float* gkv = static_cast<float*>(scratch->data());
      int* gki = reinterpret_cast<int*>(gkv + blocks * int64_t{P});
      topk_rows<T><<<static_cast<unsigned>(blocks), kTopKThreads, 0, env.stream()>>>(
          data_of<T>(x), data_of<T>(v), ix.data<int64_t>(), rows, L, inner, k, P, largest, gkv, gki);
      R1_GPU_CHECK_LAUNCH();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// OneHot

template <class I, class U>
__global__ void one_hot_fill(const typename I::storage* ind, U* y, int64_t n, int64_t depth, int64_t inner, U off,
                             U on) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t in = i % inner, rest = i / inner;
    const int64_t kk = rest % depth, o = rest / depth;
    const auto raw = I::load(ind[o * inner + in]);
    int64_t v;
    if constexpr (std::is_integral_v<decltype(raw)>) {
      v = static_cast<int64_t>(raw);
    } else {  // truncates like the CPU's cast; NaN / huge values select nothing
      v = (raw > -9.0e18f && raw < 9.0e18f) ? static_cast<int64_t>(raw) : depth;
    }
    if (v < 0) v += depth;
    y[i] = v == kk ? on : off;
  }
}

bool one_hot_index_type(DType t) {
  return dtype_in(
      t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8, DType::Int32, DType::Int64});
}

bool one_hot_supported(const Node& n) {
  return !n.inputs.empty() && n.inputs[0] && one_hot_index_type(n.inputs[0]->dtype);
}

void one_hot(KernelContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& dt = ctx.input(1);
  const Tensor& vals = ctx.input(2);
  R1_CHECK(vals.numel() == 2, InputError) << "OneHot: values must hold 2 elements";
  R1_CHECK(dt.numel() == 1, InputError) << "OneHot: depth must be a scalar";
  const int64_t depth = static_cast<int64_t>(dt.scalar_as_double(0));
  R1_CHECK(depth > 0, InputError) << "OneHot: depth must be positive, got " << depth;
  const int r = ind.rank() + 1;
  const int ax = normalize_axis(ctx.attrs().get_int("axis", -1), r, "OneHot axis");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= ind.shape()[i];
  for (int i = ax; i < ind.rank(); ++i) inner *= ind.shape()[i];
  Tensor& y = ctx.output(0);
  R1_CHECK(y.dtype() == vals.dtype(), InternalError) << "OneHot: output dtype differs from values";
  const int64_t n = outer * depth * inner;
  R1_CHECK(y.numel() == n, InternalError) << "OneHot: output has " << y.numel() << " elements, expected " << n;
  if (n == 0) return;
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(vals.dtype()), [&](auto utag) {
    using U = decltype(utag);
    U off, on;
    std::memcpy(&off, vals.raw(), sizeof(U));
    std::memcpy(&on, static_cast<const char*>(vals.raw()) + sizeof(U), sizeof(U));
    auto run = [&](auto itag) {
      using I = decltype(itag);
      one_hot_fill<I, U><<<blocks_for(n), kThreads, 0, env.stream()>>>(data_of<I>(ind), static_cast<U*>(y.raw()), n,
                                                                       depth, inner, off, on);
      R1_GPU_CHECK_LAUNCH();
    };
    switch (ind.dtype()) {
      case DType::Float32:
        run(F32{});
        return;
      case DType::Float16:
        run(F16{});
        return;
      case DType::BFloat16:
        run(BF16{});
        return;
      case DType::Int8:
        run(IntT<int8_t>{});
        return;
      case DType::UInt8:
        run(IntT<uint8_t>{});
        return;
      case DType::Int32:
        run(IntT<int32_t>{});
        return;
      case DType::Int64:
        run(IntT<int64_t>{});
        return;
      default:
        break;
    }
    R1_THROW(InputError) << "OneHot on " R1_GPU_BACKEND_NAME " does not support indices of " << dtype_name(ind.dtype());
  });
}

// ---------------------------------------------------------------------------------------------
// Generators: EyeLike, ConstantOfShape, Range

template <class U>
__global__ void fill_value(U* y, int64_t n, U v) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = v;
}

template <class U>
__global__ void eye_fill(U* y, int64_t n, int64_t M, int64_t k, U one) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / M, col = i - row * M;
    y[i] = col - row == k ? one : U(0);
  }
}

// The bit pattern of 1 in dtype t (0 is all zero bits in every dtype).
uint64_t one_bits(DType t) {
  switch (t) {
    case DType::Float32:
      return 0x3f800000u;
    case DType::Float16:
      return 0x3c00u;
    case DType::BFloat16:
      return 0x3f80u;
    case DType::Int8:
    case DType::UInt8:
    case DType::Int32:
    case DType::Int64:
    case DType::Bool:
      return 1u;
    default:
      break;
  }
  R1_THROW(InputError) << "EyeLike on " R1_GPU_BACKEND_NAME " does not support " << dtype_name(t);
  return 0;
}

void eye_like(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  R1_CHECK(y.rank() == 2, InputError) << "EyeLike: input must be 2-D, got rank " << y.rank();
  if (y.numel() == 0) return;
  const int64_t k = ctx.attrs().get_int("k", 0);
  const uint64_t one = one_bits(y.dtype());
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(y.dtype()), [&](auto tag) {
    using U = decltype(tag);
    eye_fill<U><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(static_cast<U*>(y.raw()), y.numel(), y.shape()[1],
                                                                      k, static_cast<U>(one));
    R1_GPU_CHECK_LAUNCH();
  });
}

void constant_of_shape(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const Tensor* v = ctx.attrs().get_tensor("value");
  if (v) {
    R1_CHECK(v->numel() == 1, ModelError) << "ConstantOfShape: value must hold one element";
    R1_CHECK(dtype_size(v->dtype()) == dtype_size(y.dtype()), InternalError)
        << "ConstantOfShape: output dtype differs from value";
  }
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(y.dtype()), [&](auto tag) {
    using U = decltype(tag);
    U val = 0;
    if (v) std::memcpy(&val, v->raw(), sizeof(U));
    fill_value<U><<<blocks_for(y.numel()), kThreads, 0, env.stream()>>>(static_cast<U*>(y.raw()), y.numel(), val);
    R1_GPU_CHECK_LAUNCH();
  });
}

template <class V>
__global__ void range_int(V* y, int64_t n, int64_t start, int64_t delta) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = static_cast<V>(static_cast<uint64_t>(start) + static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
}

template <class T>
__global__ void range_float(typename T::storage* y, int64_t n, float start, float delta) {
  // start + i * delta in float, rounded per operation (no contraction), as the CPU computes it
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = T::store(__fadd_rn(start, __fmul_rn(static_cast<float>(i), delta)));
}

bool range_type(DType t) {
  return dtype_in(
      t, {DType::Float32, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8, DType::Int32, DType::Int64});
}

bool range_supported(const Node& n) { return !n.outputs.empty() && n.outputs[0] && range_type(n.outputs[0]->dtype); }

void range(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const DType t = y.dtype();
  for (size_t i = 0; i < 3; ++i) {
    R1_CHECK(ctx.input(i).dtype() == t, ModelError) << "Range: start, limit and delta must share a dtype";
    R1_CHECK(ctx.input(i).numel() == 1, InputError) << "Range: start, limit and delta must be scalars";
  }
  const int64_t n = y.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  const unsigned grid = blocks_for(n);
  if (is_integer(t)) {
    const int64_t s = ctx.input(0).to_int64_vector()[0], d = ctx.input(2).to_int64_vector()[0];
    auto run = [&](auto tag) {
      using V = decltype(tag);
      range_int<V><<<grid, kThreads, 0, env.stream()>>>(static_cast<V*>(y.raw()), n, s, d);
      R1_GPU_CHECK_LAUNCH();
    };
    switch (t) {
      case DType::Int8:
        run(int8_t{});
        return;
      case DType::UInt8:
        run(uint8_t{});
        return;
      case DType::Int32:
        run(int32_t{});
        return;
      case DType::Int64:
        run(int64_t{});
        return;
      default:
        break;
    }
  }
  const float s = static_cast<float>(ctx.input(0).scalar_as_double(0));
  const float d = static_cast<float>(ctx.input(2).scalar_as_double(0));
  dispatch_float_types(t, "Range", [&](auto tag) {
    using T = decltype(tag);
    range_float<T><<<grid, kThreads, 0, env.stream()>>>(data_of<T>(y), n, s, d);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// DepthToSpace / SpaceToDepth: y = transpose(x viewed as 6-D `in`, perm), then viewed as 4-D.

struct Perm6 {
  int64_t dims[6] = {};  // output dims
  int64_t st[6] = {};    // source element stride per output dim
};

template <class U>
__global__ void permute6(const U* x, U* y, int64_t n, Perm6 p) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
#pragma unroll
    for (int d = 5; d >= 0; --d) {
      const int64_t q = rest / p.dims[d];
      off += (rest - q * p.dims[d]) * p.st[d];
      rest = q;
    }
    y[i] = x[off];
  }
}

void launch_permute6(KernelContext& ctx, const Tensor& x, Tensor& y, const int64_t (&in)[6], const int (&perm)[6]) {
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  R1_CHECK(n == x.numel() && n == y.numel(), InternalError)
      << ctx.node().op_type << ": element counts of input and output differ";
  if (n == 0) return;
  int64_t st[6];
  st[5] = 1;
  for (int d = 4; d >= 0; --d) st[d] = st[d + 1] * in[d + 1];
  Perm6 p;
  for (int d = 0; d < 6; ++d) {
    p.dims[d] = in[perm[d]];
    p.st[d] = st[perm[d]];
  }
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(x.dtype()), [&](auto tag) {
    using U = decltype(tag);
    permute6<U>
        <<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()), static_cast<U*>(y.raw()), n, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

// Reads blocksize and mode, checking them as shape inference does.
void block_attrs(const KernelContext& ctx, const Tensor& x, int64_t* b, bool* crd) {
  const char* op = ctx.node().op_type.c_str();
  R1_CHECK(x.rank() == 4, InputError) << op << ": input must be 4-D, got " << shape_str(x.shape());
  *b = ctx.attrs().get_int("blocksize", 0);
  R1_CHECK(*b > 0, ModelError) << op << ": blocksize must be positive";
  const std::string mode = ctx.attrs().get_string("mode", "DCR");
  R1_CHECK(mode == "DCR" || mode == "CRD", ModelError) << op << ": mode '" << mode << "' is not supported";
  *crd = mode == "CRD";
}

void depth_to_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t b;
  bool crd;
  block_attrs(ctx, x, &b, &crd);
  const Shape& s = x.shape();
  R1_CHECK(s[1] % (b * b) == 0, InputError) << "DepthToSpace: channels " << s[1] << " not divisible by " << b * b;
  Tensor& y = ctx.output(0);
  const int64_t n = s[0], c = s[1] / (b * b), h = s[2], w = s[3];
  if (crd) {
    const int64_t in[6] = {n, c, b, b, h, w};
    const int perm[6] = {0, 1, 4, 2, 5, 3};
    launch_permute6(ctx, x, y, in, perm);
  } else {
    const int64_t in[6] = {n, b, b, c, h, w};
    const int perm[6] = {0, 3, 4, 1, 5, 2};
    launch_permute6(ctx, x, y, in, perm);
  }
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t b;
  bool crd;
  block_attrs(ctx, x, &b, &crd);
  const Shape& s = x.shape();
  for (int i = 2; i < 4; ++i)
    R1_CHECK(s[i] % b == 0, InputError) << "SpaceToDepth: dim " << i << " (" << s[i] << ") not divisible by " << b;
  Tensor& y = ctx.output(0);
  const int64_t in[6] = {s[0], s[1], s[2] / b, b, s[3] / b, b};
  if (crd) {
    const int perm[6] = {0, 1, 3, 5, 2, 4};
    launch_permute6(ctx, x, y, in, perm);
  } else {
    const int perm[6] = {0, 3, 5, 1, 2, 4};
    launch_permute6(ctx, x, y, in, perm);
  }
}

}  // namespace

void register_misc_kernels(KernelTable& t) {
  t.add("Hardmax", hardmax);  // float types (the default predicate)
  t.add("CumSum", cumsum, "", kIn1, cumsum_supported);
  t.add("TopK", topk, "", kIn1, topk_supported);
  t.add("OneHot", one_hot, "", kIn1 | kIn2, one_hot_supported);
  t.add("EyeLike", eye_like, "", 0, supports_any_dtype);  // input 0: only its shape is read
  t.add("ConstantOfShape", constant_of_shape, "", kIn0, supports_any_dtype);
  t.add("Range", range, "", kIn0 | kIn1 | kIn2, range_supported);
  t.add("DepthToSpace", depth_to_space, "", 0, supports_any_dtype);
  t.add("SpaceToDepth", space_to_depth, "", 0, supports_any_dtype);
}
}  // namespace r1::gpu
