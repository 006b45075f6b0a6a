// Index ops on the GPU: Gather, GatherElements, GatherND, ScatterElements (and the deprecated
// Scatter), ScatterND. The indices (int32 or int64) live in device memory, so they are read by the
// kernels, never on the host; negative indices wrap once (-n .. -1) as in the CPU kernels.
//
// Out-of-range indices: the CPU kernels raise InputError, but a kernel cannot raise. Here a
// gather with an out-of-range index writes zeros for the elements it would have read, and a
// scatter skips the update; the rest of the output is computed normally.
//
// Data of any dtype is moved as raw bytes (one instantiation per element size). Scatter
// reductions (add / mul / max / min) do arithmetic and support float32 / float16 / bfloat16 with
// atomic compare-and-swap updates (float arithmetic, the result rounded to the dtype at each
// update). With reduction "none", duplicate indices leave one of the colliding updates (ONNX
// leaves the order unspecified; the CPU kernel keeps the last).
#include <string>
#include <type_traits>
#include <vector>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// Calls f(I{}) with the C++ type of an int32 / int64 indices tensor; InputError otherwise.
template <class F>
void dispatch_index(const Tensor& ind, const char* op, F&& f) {
  if (ind.dtype() == DType::Int64) return f(int64_t{});
  if (ind.dtype() == DType::Int32) return f(int32_t{});
  R1_THROW(InputError) << op << ": indices must be int32 or int64, got " << dtype_name(ind.dtype());
}

size_t esize(const Tensor& t) { return dtype_size(t.dtype()); }

// v in [-n, n) -> [0, n); anything else -> -1.
template <class I>
__device__ inline int64_t wrap_index(I raw, int64_t n) {
  int64_t v = static_cast<int64_t>(raw);
  if (v < 0) v += n;
  return v >= 0 && v < n ? v : -1;
}

constexpr int kMaxIdxRank = 8;
struct Dims {
  int64_t d[kMaxIdxRank] = {};
};

// ---------------------------------------------------------------------------------------------
// Gather: y[o, i, j] = x[o, idx[i], j]; rows of `inner` elements are moved as the widest word
// that divides the row (so an embedding lookup moves 8-byte words).

template <class U, class I>
__global__ void gather_kernel(const U* x, const I* idx, U* y, int64_t n, int64_t N, int64_t A, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = t / inner, j = t - r * inner;
    const int64_t o = r / N, i = r - o * N;
    const int64_t v = wrap_index(idx[i], A);
    y[t] = v >= 0 ? x[(o * A + v) * inner + j] : U(0);
  }
}

void gather(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int r = x.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Gather axis");
  int64_t outer = 1, inner = 1;
  const int64_t A = x.shape()[ax];
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  const int64_t N = ind.numel();
  R1_CHECK(y.numel() == outer * N * inner, InternalError)
      << "Gather: output " << shape_str(y.shape()) << " does not match data and indices";
  dispatch_index(ind, "Gather", [&](auto itag) {
    using I = decltype(itag);
    if (y.numel() == 0) return;
    const uint64_t row_b = static_cast<uint64_t>(inner) * esize(x);
    const uint64_t bits = row_b | reinterpret_cast<uintptr_t>(x.raw()) | reinterpret_cast<uintptr_t>(y.raw());
    const size_t w = (bits & 7) == 0 ? 8 : (bits & 3) == 0 ? 4 : (bits & 1) == 0 ? 2 : 1;
    KernelLaunch env(ctx);
    dispatch_bytes(w, [&](auto tag) {
      using U = decltype(tag);
      const int64_t inner_w = static_cast<int64_t>(row_b / sizeof(U));
      const int64_t n = outer * N * inner_w;
      gather_kernel<U, I><<<blocks_for(n), kThreads, 0, env.stream()>>>(
          static_cast<const U*>(x.raw()), static_cast<const I*>(ind.raw()), static_cast<U*>(y.raw()), n, N, A, inner_w);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// GatherElements: y[c] = x[c with c[axis] replaced by idx[c]]; y has the indices' shape.

template <class U, class I>
__global__ void gather_elements_kernel(const U* x, const I* idx, U* y, int64_t n, int rank, int ax, Dims is, Dims xst,
                                       int64_t A) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = t, off = 0;
    for (int k = rank - 1; k >= 0; --k) {
      const int64_t q = rest / is.d[k];
      if (k != ax) off += (rest - q * is.d[k]) * xst.d[k];
      rest = q;
    }
    const int64_t v = wrap_index(idx[t], A);
    y[t] = v >= 0 ? x[off + v * xst.d[ax]] : U(0);
  }
}

void gather_elements(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int r = x.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "GatherElements axis");
  R1_CHECK(ind.rank() == r, InputError) << "GatherElements: indices rank " << ind.rank() << " differs from data rank "
                                        << r;
  R1_CHECK(r <= kMaxIdxRank, InputError) << "GatherElements on " R1_GPU_BACKEND_NAME " supports rank <= "
                                         << kMaxIdxRank;
  for (int k = 0; k < r; ++k)
    R1_CHECK(k == ax || ind.shape()[k] <= x.shape()[k], InputError)
        << "GatherElements: indices shape " << shape_str(ind.shape()) << " exceeds data shape " << shape_str(x.shape())
        << " off the axis";
  dispatch_index(ind, "GatherElements", [&](auto itag) {
    using I = decltype(itag);
    const int64_t n = y.numel();
    if (n == 0) return;
    Dims is, xst;
    std::vector<int64_t> st = contiguous_strides(x.shape());
    for (int k = 0; k < r; ++k) {
      is.d[k] = ind.shape()[k];
      xst.d[k] = st[k];
    }
    KernelLaunch env(ctx);
    dispatch_bytes(esize(x), [&](auto tag) {
      using U = decltype(tag);
      gather_elements_kernel<U, I><<<blocks_for(n), kThreads, 0, env.stream()>>>(
          static_cast<const U*>(x.raw()), static_cast<const I*>(ind.raw()), static_cast<U*>(y.raw()), n, r, ax, is, xst,
          x.shape()[ax]);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// GatherND (batch_dims b): y[t, s] = x[batch(t) * bstride + sum_j idx[t, j] * st[b + j] + s].

template <class U, class I>
__global__ void gather_nd_kernel(const U* x, const I* idx, U* y, int64_t n, int64_t slice, int64_t M, int64_t bstride,
                                 int k, Dims dims, Dims st) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = e / slice, s = e - t * slice;
    int64_t off = (t / M) * bstride;
    bool bad = false;
    for (int j = 0; j < k; ++j) {
      const int64_t v = wrap_index(idx[t * k + j], dims.d[j]);
      if (v < 0)
        bad = true;
      else
        off += v * st.d[j];
    }
    y[e] = bad ? U(0) : x[off + s];
  }
}

void gather_nd(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int64_t b = ctx.opset() >= 12 ? ctx.attrs().get_int("batch_dims", 0) : 0;
  const Shape& ds = x.shape();
  const Shape& is = ind.shape();
  const int q = ind.rank();
  R1_CHECK(q >= 1, InputError) << "GatherND: indices must have rank >= 1";
  const int64_t k = is[q - 1];
  R1_CHECK(b >= 0 && b < q && b + k <= x.rank(), InputError)
      << "GatherND: batch_dims " << b << " and index tuples of length " << k << " do not fit data of rank " << x.rank();
  R1_CHECK(k <= kMaxIdxRank, InputError) << "GatherND on " R1_GPU_BACKEND_NAME " supports tuples of <= " << kMaxIdxRank
                                         << " indices";
  int64_t B = 1;
  for (int i = 0; i < b; ++i) {
    R1_CHECK(ds[i] == is[i], InputError) << "GatherND: batch dims of data and indices differ";
    B *= ds[i];
  }
  int64_t M = 1;
  for (int i = static_cast<int>(b); i < q - 1; ++i) M *= is[i];
  int64_t slice = 1;
  for (size_t i = b + k; i < ds.size(); ++i) slice *= ds[i];
  int64_t bstride = 1;
  for (size_t i = b; i < ds.size(); ++i) bstride *= ds[i];
  R1_CHECK(y.numel() == B * M * slice, InternalError)
      << "GatherND: output " << shape_str(y.shape()) << " does not match data and indices";
  std::vector<int64_t> cst = contiguous_strides(ds);
  Dims dims, st;
  for (int j = 0; j < k; ++j) {
    dims.d[j] = ds[b + j];
    st.d[j] = cst[b + j];
  }
  dispatch_index(ind, "GatherND", [&](auto itag) {
    using I = decltype(itag);
    const int64_t n = y.numel();
    if (n == 0) return;
    KernelLaunch env(ctx);
    dispatch_bytes(esize(x), [&](auto tag) {
      using U = decltype(tag);
      gather_nd_kernel<U, I><<<blocks_for(n), kThreads, 0, env.stream()>>>(
          static_cast<const U*>(x.raw()), static_cast<const I*>(ind.raw()), static_cast<U*>(y.raw()), n, slice, M,
          bstride, static_cast<int>(k), dims, st);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Scatter updates: a plain store of raw bytes, or an atomic read-modify-write in float.

enum class Red { None, Add, Mul, Max, Min };

Red parse_reduction(const std::string& r, const char* op) {
  if (r == "none") return Red::None;
  if (r == "add") return Red::Add;
  if (r == "mul") return Red::Mul;
  if (r == "max") return Red::Max;
  R1_CHECK(r == "min", ModelError) << op << ": reduction '" << r << "' is not supported";
  return Red::Min;
}

// The CPU kernel's combine of the current value a with the update b.
template <Red R>
__device__ inline float combine(float a, float b) {
  if constexpr (R == Red::Add)
    return a + b;
  else if constexpr (R == Red::Mul)
    return a * b;
  else if constexpr (R == Red::Max)
    return a >= b ? a : b;
  else
    return a <= b ? a : b;
}

// Stores through U for Red::None; otherwise a compare-and-swap loop on the 32-bit word holding
// the element (16-bit floats share their word with a neighbour, which the CAS leaves intact).
template <class T, Red R>
struct Updater {
  using storage = typename T::storage;
  __device__ static void apply(storage* dst, storage u) {
    if constexpr (R == Red::None) {
      *dst = u;
    } else if constexpr (std::is_same_v<T, F32>) {
      if constexpr (R == Red::Add) {
        atomicAdd(dst, u);
      } else {
        unsigned int* a = reinterpret_cast<unsigned int*>(dst);
        unsigned int old = *a, assumed;
        do {
          assumed = old;
          const float nv = combine<R>(__uint_as_float(assumed), u);
          old = atomicCAS(a, assumed, __float_as_uint(nv));
        } while (old != assumed);
      }
    } else {
      const uintptr_t p = reinterpret_cast<uintptr_t>(dst);
      unsigned int* a = reinterpret_cast<unsigned int*>(p & ~uintptr_t{3});
      const unsigned int shift = (p & 2) ? 16u : 0u;
      const float uf = T::load(u);
      unsigned int old = *a, assumed;
      do {
        assumed = old;
        const storage cur = static_cast<storage>((assumed >> shift) & 0xffffu);
        const storage nv = T::store(combine<R>(T::load(cur), uf));
        const unsigned int word = (assumed & ~(0xffffu << shift)) | (static_cast<unsigned int>(nv) << shift);
        old = atomicCAS(a, assumed, word);
      } while (old != assumed);
    }
  }
};

// Raw-bytes element type for Red::None.
template <class U>
struct Raw {
  using storage = U;
};

template <class F>
void dispatch_scatter(DType dt, Red red, const char* op, F&& f) {
  if (red == Red::None) {
    dispatch_bytes(dtype_size(dt), [&](auto tag) {
      using U = decltype(tag);
      f(Updater<Raw<U>, Red::None>{});
    });
    return;
  }
  dispatch_float_types(dt, op, [&](auto tag) {
    using T = decltype(tag);
    switch (red) {
      case Red::Add:
        f(Updater<T, Red::Add>{});
        break;
      case Red::Mul:
        f(Updater<T, Red::Mul>{});
        break;
      case Red::Max:
        f(Updater<T, Red::Max>{});
        break;
      default:
        f(Updater<T, Red::Min>{});
        break;
    }
  });
}

void copy_data(const Tensor& x, Tensor& y, gpuStream_t s) {
  if (y.nbytes() && y.raw() != x.raw()) R1_GPU_CHECK(gpuMemcpyAsync(y.raw(), x.raw(), x.nbytes(), gpuMemcpyDefault, s));
}

// ---------------------------------------------------------------------------------------------
// ScatterElements: y = x; y[c with c[axis] replaced by idx[c]] op= updates[c].

template <class Up, class I>
__global__ void scatter_elements_kernel(typename Up::storage* y, const I* idx, const typename Up::storage* upd,
                                        int64_t n, int rank, int ax, Dims is, Dims yst, int64_t A) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = t, off = 0;
    for (int k = rank - 1; k >= 0; --k) {
      const int64_t q = rest / is.d[k];
      if (k != ax) off += (rest - q * is.d[k]) * yst.d[k];
      rest = q;
    }
    const int64_t v = wrap_index(idx[t], A);
    if (v >= 0) Up::apply(y + off + v * yst.d[ax], upd[t]);
  }
}

void scatter_elements(KernelContext& ctx) {
  const char* op = ctx.node().op_type == "Scatter" ? "Scatter" : "ScatterElements";
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  const Red red = parse_reduction(ctx.attrs().get_string("reduction", "none"), op);
  R1_CHECK(upd.dtype() == x.dtype(), InputError) << op << ": updates dtype differs from data";
  R1_CHECK(ind.shape() == upd.shape(), InputError)
      << op << ": indices " << shape_str(ind.shape()) << " and updates " << shape_str(upd.shape()) << " differ";
  const int r = x.rank();
  R1_CHECK(ind.rank() == r, InputError) << op << ": indices rank differs from data rank";
  R1_CHECK(r <= kMaxIdxRank, InputError) << op << " on " R1_GPU_BACKEND_NAME " supports rank <= " << kMaxIdxRank;
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "ScatterElements axis");
  for (int k = 0; k < r; ++k)
    R1_CHECK(k == ax || ind.shape()[k] <= x.shape()[k], InputError) << op << ": indices shape exceeds data shape";
  KernelLaunch env(ctx);
  dispatch_index(ind, op, [&](auto itag) {
    using I = decltype(itag);
    dispatch_scatter(x.dtype(), red, op, [&](auto utag) {
      using Up = decltype(utag);
      using S = typename Up::storage;
      copy_data(x, y, env.stream());
      const int64_t n = ind.numel();
      if (n == 0) return;
      Dims is, yst;
      std::vector<int64_t> st = contiguous_strides(x.shape());
      for (int k = 0; k < r; ++k) {
        is.d[k] = ind.shape()[k];
        yst.d[k] = st[k];
      }
      scatter_elements_kernel<Up, I><<<blocks_for(n), kThreads, 0, env.stream()>>>(
          static_cast<S*>(y.raw()), static_cast<const I*>(ind.raw()), static_cast<const S*>(upd.raw()), n, r, ax, is,
          yst, x.shape()[ax]);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// ScatterND: y = x; y[idx[t] tuple, s] op= updates[t, s].

template <class Up, class I>
__global__ void scatter_nd_kernel(typename Up::storage* y, const I* idx, const typename Up::storage* upd, int64_t n,
                                  int64_t slice, int k, Dims dims, Dims st) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = e / slice, s = e - t * slice;
    int64_t off = 0;
    bool bad = false;
    for (int j = 0; j < k; ++j) {
      const int64_t v = wrap_index(idx[t * k + j], dims.d[j]);
      if (v < 0)
        bad = true;
      else
        off += v * st.d[j];
    }
    if (!bad) Up::apply(y + off + s, upd[e]);
  }
}

void scatter_nd(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  const Red red = parse_reduction(ctx.attrs().get_string("reduction", "none"), "ScatterND");
  R1_CHECK(upd.dtype() == x.dtype(), InputError) << "ScatterND: updates dtype differs from data";
  const Shape& ds = x.shape();
  const int q = ind.rank();
  R1_CHECK(q >= 1, InputError) << "ScatterND: indices must have rank >= 1";
  const int64_t k = ind.shape()[q - 1];
  R1_CHECK(k <= x.rank(), InputError) << "ScatterND: index tuples longer than data rank";
  R1_CHECK(k <= kMaxIdxRank, InputError) << "ScatterND on " R1_GPU_BACKEND_NAME " supports tuples of <= " << kMaxIdxRank
                                         << " indices";
  int64_t slice = 1;
  for (size_t i = k; i < ds.size(); ++i) slice *= ds[i];
  const int64_t n = k ? ind.numel() / k : ind.numel();
  R1_CHECK(upd.numel() == n * slice, InputError)
      << "ScatterND: updates shape " << shape_str(upd.shape()) << " does not match indices and data";
  std::vector<int64_t> cst = contiguous_strides(ds);
  Dims dims, st;
  for (int j = 0; j < k; ++j) {
    dims.d[j] = ds[j];
    st.d[j] = cst[j];
  }
  KernelLaunch env(ctx);
  dispatch_index(ind, "ScatterND", [&](auto itag) {
    using I = decltype(itag);
    dispatch_scatter(x.dtype(), red, "ScatterND", [&](auto utag) {
      using Up = decltype(utag);
      using S = typename Up::storage;
      copy_data(x, y, env.stream());
      const int64_t total = n * slice;
      if (total == 0) return;
      scatter_nd_kernel<Up, I><<<blocks_for(total), kThreads, 0, env.stream()>>>(
          static_cast<S*>(y.raw()), static_cast<const I*>(ind.raw()), static_cast<const S*>(upd.raw()), total, slice,
          static_cast<int>(k), dims, st);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Predicates: int32 / int64 indices; any data dtype, except that scatter reductions need floats.

bool index_ok(const Node& n, size_t i) {
  return i < n.inputs.size() && n.inputs[i] &&
         (n.inputs[i]->dtype == DType::Int32 || n.inputs[i]->dtype == DType::Int64);
}

bool gather_supported(const Node& n) { return index_ok(n, 1); }

bool scatter_supported(const Node& n) {
  if (!index_ok(n, 1) || n.inputs.empty() || !n.inputs[0]) return false;
  const std::string red = n.attrs.get_string("reduction", "none");
  if (red == "none") return true;
  if (red != "add" && red != "mul" && red != "max" && red != "min") return false;
  return is_float(n.inputs[0]->dtype);
}

}  // namespace

void register_gather_scatter_kernels(KernelTable& t) {
  t.add("Gather", gather, "", 0, gather_supported);
  t.add("GatherElements", gather_elements, "", 0, gather_supported);
  t.add("GatherND", gather_nd, "", 0, gather_supported);
  t.add("ScatterElements", scatter_elements, "", 0, scatter_supported);
  t.add("Scatter", scatter_elements, "", 0, scatter_supported);
  t.add("ScatterND", scatter_nd, "", 0, scatter_supported);
}

}  // namespace r1::gpu
