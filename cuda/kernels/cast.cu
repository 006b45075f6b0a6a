// Data movement on the GPU: Transpose, Concat, Split, Slice, Expand, Tile, Pad, Where, Trilu,
// Dropout (inference), Cast and CastLike.
//
// Everything but Cast only moves elements, so the kernels are byte-generic: one instantiation per
// element size (1, 2, 4, 8 bytes: uint8_t ... uint64_t) serves every dtype.
//   - Transpose / Slice / Expand / Tile are one strided gather: the output is walked in order and
//     element (i0, i1, ...) is read at src + sum(ik * stride[k]) (strides may be 0 or negative).
//     Size-1 dims are dropped and dims contiguous with each other merged first.
//   - Concat / Split are 2-D block copies (rows of one input's chunk), vectorised to the widest
//     word (up to 8 bytes) that divides the chunk, both pitches and both addresses.
// Host inputs (shapes, starts, pads, repeats, k) are read on the CPU; the plans come from the
// same shape_ops functions as the CPU kernels and shape inference.
#include <cstring>
#include <type_traits>
#include <vector>

#include "elementwise.cuh"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

// ---------------------------------------------------------------------------------------------
// Byte-generic helpers

size_t esize(const Tensor& t) { return dtype_size(t.dtype()); }

constexpr int kMaxDims = 16;  // Tile doubles the rank; merging usually brings it back down

struct Strided {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t st[kMaxDims] = {};  // element strides into the source, per output dim
};

template <class U>
__global__ void strided_gather(const U* src, U* dst, int64_t n, Strided p) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t q = rest / p.dims[d];
      off += (rest - q * p.dims[d]) * p.st[d];
      rest = q;
    }
    dst[i] = src[off];
  }
}

// dst (contiguous, shape `out`) = src read with element strides `st`. `src` already points at the
// element of output index (0, 0, ...).
void launch_strided(const void* src, void* dst, size_t es, const Shape& out, const std::vector<int64_t>& st,
                    gpuStream_t s, const char* op) {
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  if (n == 0) return;
  Strided p;
  std::vector<int64_t> md, ms;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (!md.empty() && ms.back() == st[i] * out[i]) {  // dim i continues the previous one
      md.back() *= out[i];
      ms.back() = st[i];
    } else {
      md.push_back(out[i]);
      ms.push_back(st[i]);
    }
  }
  if (md.empty() || (md.size() == 1 && ms[0] == 1)) {  // a plain contiguous copy
    R1_GPU_CHECK(gpuMemcpyAsync(dst, src, static_cast<size_t>(n) * es, gpuMemcpyDefault, s));
    return;
  }
  R1_CHECK(md.size() <= static_cast<size_t>(kMaxDims), InputError)
      << op << " on " R1_GPU_BACKEND_NAME ": more than " << kMaxDims << " non-mergeable dims";
  p.rank = static_cast<int>(md.size());
  for (int i = 0; i < p.rank; ++i) {
    p.dims[i] = md[i];
    p.st[i] = ms[i];
  }
  dispatch_bytes(es, [&](auto tag) {
    using U = decltype(tag);
    strided_gather<U><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const U*>(src), static_cast<U*>(dst), n, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

template <class U>
__global__ void copy2d_kernel(const U* src, int64_t spitch, U* dst, int64_t dpitch, int64_t rows, int64_t width) {
  const int64_t n = rows * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / width, c = i - r * width;
    dst[r * dpitch + c] = src[r * spitch + c];
  }
}

// rows x width_b bytes from src (rows spitch_b apart) to dst (rows dpitch_b apart).
void launch_copy2d(const void* src, int64_t spitch_b, void* dst, int64_t dpitch_b, int64_t rows, int64_t width_b,
                   gpuStream_t s) {
  if (rows == 0 || width_b == 0) return;
  const uint64_t bits = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                        static_cast<uint64_t>(spitch_b) | static_cast<uint64_t>(dpitch_b) |
                        static_cast<uint64_t>(width_b);
  const size_t w = (bits & 7) == 0 ? 8 : (bits & 3) == 0 ? 4 : (bits & 1) == 0 ? 2 : 1;
  dispatch_bytes(w, [&](auto tag) {
    using U = decltype(tag);
    const int64_t ws = static_cast<int64_t>(sizeof(U));
    const int64_t width = width_b / ws;
    copy2d_kernel<U><<<blocks_for(rows * width), kThreads, 0, s>>>(static_cast<const U*>(src), spitch_b / ws,
                                                                   static_cast<U*>(dst), dpitch_b / ws, rows, width);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// Transpose, Concat, Split, Slice, Expand, Tile

void transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> perm = transpose_perm(ctx.attrs(), x.rank());
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape out(perm.size());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out[i] = x.shape()[perm[i]];
    st[i] = in_st[perm[i]];
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), out, st, env.stream(), "Transpose");
}

void concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int r = y.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Concat axis");
  const int64_t es = static_cast<int64_t>(esize(y));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= y.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= y.shape()[i];
  const int64_t out_row = y.shape()[ax] * inner * es;
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  char* dst = static_cast<char*>(y.raw());
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) continue;
    const Tensor& x = ctx.input(k);
    R1_CHECK(x.dtype() == y.dtype(), InputError)
        << "Concat: input " << k << " is " << dtype_name(x.dtype()) << ", expected " << dtype_name(y.dtype());
    const int64_t chunk = x.shape()[ax] * inner * es;
    R1_CHECK(off + chunk <= out_row && x.numel() * es == outer * chunk, InputError)
        << "Concat: input " << k << " of shape " << shape_str(x.shape()) << " does not fit output "
        << shape_str(y.shape());
    launch_copy2d(x.raw(), chunk, dst + off, out_row, outer, chunk, env.stream());
    off += chunk;
  }
}

void split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int r = x.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Split axis");
  const int64_t es = static_cast<int64_t>(esize(x));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  const int64_t in_row = x.shape()[ax] * inner * es;
  const char* src = static_cast<const char*>(x.raw());
  KernelLaunch env(ctx);
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    const Shape& os = ctx.output_shape(k);
    R1_CHECK(static_cast<int>(os.size()) == r, InternalError) << "Split: output " << k << " has the wrong rank";
    const int64_t chunk = os[ax] * inner * es;
    R1_CHECK(off + chunk <= in_row, InputError)
        << "Split: the outputs hold more than the input's axis " << x.shape()[ax];
    if (ctx.has_output(k)) {
      Tensor& y = ctx.output(k);
      launch_copy2d(src + off, in_row, y.raw(), chunk, outer, chunk, env.stream());
    }
    off += chunk;
  }
}

void slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attrs().get_ints("starts");
    ends = ctx.attrs().get_ints("ends");
    axes = ctx.attrs().get_ints("axes");
  } else {  // host inputs
    starts = ctx.input(1).to_int64_vector();
    ends = ctx.input(2).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
    if (ctx.has_input(4)) steps = ctx.input(4).to_int64_vector();
  }
  Shape out;
  std::vector<int64_t> st, sp;
  slice_plan(x.shape(), starts, ends, axes, steps, &out, &st, &sp);
  Tensor& y = ctx.output(0);
  R1_CHECK(y.shape() == out, InternalError)
      << "Slice: output " << shape_str(y.shape()) << " differs from the plan " << shape_str(out);
  if (y.numel() == 0) return;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(x.rank());
  for (int i = 0; i < x.rank(); ++i) {
    base += st[i] * in_st[i];
    strides[i] = sp[i] * in_st[i];
  }
  const size_t es = esize(x);
  KernelLaunch env(ctx);
  launch_strided(static_cast<const char*>(x.raw()) + base * static_cast<int64_t>(es), y.raw(), es, out, strides,
                 env.stream(), "Slice");
}

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int r = y.rank(), off = r - x.rank();
  R1_CHECK(off >= 0, InputError) << "Expand: input rank " << x.rank() << " exceeds output rank " << r;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  std::vector<int64_t> st(r, 0);
  for (int i = 0; i < x.rank(); ++i) {
    R1_CHECK(x.shape()[i] == 1 || x.shape()[i] == y.shape()[off + i], InputError)
        << "Expand: input " << shape_str(x.shape()) << " does not broadcast to " << shape_str(y.shape());
    st[off + i] = (x.shape()[i] == 1) ? 0 : in_st[i];
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), y.shape(), st, env.stream(), "Expand");
}

void tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> rep = ctx.input(1).to_int64_vector();  // host input
  R1_CHECK(static_cast<int>(rep.size()) == x.rank(), InputError)
      << "Tile: repeats has " << rep.size() << " entries for an input of rank " << x.rank();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape s;
  std::vector<int64_t> st;
  for (int i = 0; i < x.rank(); ++i) {
    R1_CHECK(rep[i] >= 0 && rep[i] * x.shape()[i] == y.shape()[i], InputError)
        << "Tile: repeats " << rep[i] << " on dim " << i << " do not give output " << shape_str(y.shape());
    s.push_back(rep[i]);
    st.push_back(0);
    s.push_back(x.shape()[i]);
    st.push_back(in_st[i]);
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), s, st, env.stream(), "Tile");
}

// ---------------------------------------------------------------------------------------------
// Pad

constexpr int kMaxPadRank = 8;
struct PadPlan {
  int rank = 0;
  int mode = 0;  // 0 constant, 1 reflect, 2 edge, 3 wrap
  int64_t out[kMaxPadRank] = {};
  int64_t in[kMaxPadRank] = {};
  int64_t begin[kMaxPadRank] = {};
  int64_t in_st[kMaxPadRank] = {};
};

// Source index along a dim of length n for padded position p (already shifted by -begin); -1 for
// the constant. The same mapping as the CPU kernel's pad_source.
__device__ inline int64_t pad_source(int64_t p, int64_t n, int mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 0:
      return -1;
    case 1: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t q = ((p % period) + period) % period;
      return q < n ? q : period - q;
    }
    case 2:
      return p < 0 ? 0 : n - 1;
    default:
      return ((p % n) + n) % n;
  }
}

template <class U>
__global__ void pad_kernel(const U* src, U* dst, int64_t n, PadPlan p, U padv) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
    bool fill = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t q = rest / p.out[d];
      const int64_t m = pad_source(rest - q * p.out[d] - p.begin[d], p.in[d], p.mode);
      rest = q;
      if (m < 0)
        fill = true;
      else
        off += m * p.in_st[d];
    }
    dst[i] = fill ? padv : src[off];
  }
}

void pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int r = x.rank();
  const std::string mode_s = ctx.attrs().get_string("mode", "constant");
  const int mode = mode_s == "constant"  ? 0
                   : mode_s == "reflect" ? 1
                   : mode_s == "edge"    ? 2
                   : mode_s == "wrap"    ? 3
                                         : -1;
  R1_CHECK(mode >= 0, ModelError) << "Pad: unknown mode '" << mode_s << "'";
  std::vector<int64_t> pads, axes;
  if (ctx.opset() < 11) {
    pads = ctx.attrs().get_ints("pads");
  } else {  // host inputs
    pads = ctx.input(1).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
  }
  std::vector<int64_t> pb, pe;
  pad_plan(r, pads, axes, &pb, &pe);
  if (y.numel() == 0) return;
  const size_t es = esize(x);
  KernelLaunch env(ctx);
  if (r == 0) {
    R1_GPU_CHECK(gpuMemcpyAsync(y.raw(), x.raw(), es, gpuMemcpyDefault, env.stream()));
    return;
  }
  R1_CHECK(r <= kMaxPadRank, InputError) << "Pad on " R1_GPU_BACKEND_NAME " supports rank <= " << kMaxPadRank
                                         << ", got " << r;
  R1_CHECK(mode == 0 || x.numel() > 0, InputError) << "Pad: mode '" << mode_s << "' needs a non-empty input";
  // The pad value's bytes in the data dtype.
  uint64_t padbits = 0;
  if (ctx.opset() < 11) {
    const float v = ctx.attrs().get_float("value", 0.0f);
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T tv = convert<T>(v);
      std::memcpy(&padbits, &tv, sizeof(T));
    });
  } else if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    const Tensor& cv = ctx.input(2);
    R1_CHECK(cv.dtype() == x.dtype(), InputError) << "Pad: constant_value must match the data dtype";
    std::memcpy(&padbits, cv.raw(), es);
  }
  PadPlan p;
  p.rank = r;
  p.mode = mode;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  for (int d = 0; d < r; ++d) {
    p.out[d] = y.shape()[d];
    p.in[d] = x.shape()[d];
    p.begin[d] = pb[d];
    p.in_st[d] = in_st[d];
    R1_CHECK(y.shape()[d] == x.shape()[d] + pb[d] + pe[d], InternalError) << "Pad: output shape mismatch";
  }
  const int64_t n = y.numel();
  dispatch_bytes(es, [&](auto tag) {
    using U = decltype(tag);
    U padv;
    std::memcpy(&padv, &padbits, sizeof(U));
    pad_kernel<U><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()),
                                                                static_cast<U*>(y.raw()), n, p, padv);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// Where: numpy broadcasting over condition, X and Y.

struct Walk3 {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t s[3][kMaxRank] = {};  // strides of cond, X, Y along each (merged) output dim
};

Walk3 make_walk3(const Shape* in[3], const Shape& out) {
  const int r = static_cast<int>(out.size());
  std::vector<int64_t> s[3];
  for (int k = 0; k < 3; ++k) {
    s[k].assign(r, 0);
    int64_t stride = 1;
    const Shape& is = *in[k];
    R1_CHECK(static_cast<int>(is.size()) <= r, InputError) << "Where: input rank exceeds the output's";
    for (int d = static_cast<int>(is.size()) - 1, o = r - 1; d >= 0; --d, --o) {
      R1_CHECK(is[d] == out[o] || is[d] == 1, InputError)
          << "Where: shape " << shape_str(is) << " does not broadcast to " << shape_str(out);
      s[k][o] = is[d] == 1 && out[o] != 1 ? 0 : stride;
      stride *= is[d];
    }
  }
  Walk3 w;
  for (int o = 0; o < r; ++o) {
    if (out[o] == 1) continue;
    if (w.rank > 0) {
      const int p = w.rank - 1;
      bool merge = true;
      for (int k = 0; k < 3; ++k) merge = merge && w.s[k][p] == s[k][o] * out[o];
      if (merge) {
        w.dims[p] *= out[o];
        for (int k = 0; k < 3; ++k) w.s[k][p] = s[k][o];
        continue;
      }
    }
    R1_CHECK(w.rank < kMaxRank, InputError) << "Where: broadcast over more than " << kMaxRank << " non-mergeable dims";
    w.dims[w.rank] = out[o];
    for (int k = 0; k < 3; ++k) w.s[k][w.rank] = s[k][o];
    ++w.rank;
  }
  return w;
}

template <class U, bool kBroadcast>
__global__ void where_kernel(const uint8_t* c, const U* a, const U* b, U* y, int64_t n, Walk3 w) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ic = i, ia = i, ib = i;
    if (kBroadcast) {
      ic = ia = ib = 0;
      int64_t rest = i;
      for (int d = w.rank - 1; d >= 0; --d) {
        const int64_t q = rest / w.dims[d];
        const int64_t k = rest - q * w.dims[d];
        rest = q;
        ic += k * w.s[0][d];
        ia += k * w.s[1][d];
        ib += k * w.s[2][d];
      }
    }
    y[i] = c[ic] != 0 ? a[ia] : b[ib];
  }
}

void where(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& a = ctx.input(1);
  const Tensor& b = ctx.input(2);
  Tensor& y = ctx.output(0);
  R1_CHECK(c.dtype() == DType::Bool, InputError) << "Where: condition must be bool, got " << dtype_name(c.dtype());
  R1_CHECK(a.dtype() == b.dtype() && a.dtype() == y.dtype(), InputError)
      << "Where: X and Y have different dtypes: " << dtype_name(a.dtype()) << " and " << dtype_name(b.dtype());
  const int64_t n = y.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  const bool flat = c.shape() == y.shape() && a.shape() == y.shape() && b.shape() == y.shape();
  Walk3 w;
  if (!flat) {
    const Shape* in[3] = {&c.shape(), &a.shape(), &b.shape()};
    w = make_walk3(in, y.shape());
  }
  dispatch_bytes(esize(y), [&](auto tag) {
    using U = decltype(tag);
    const uint8_t* pc = static_cast<const uint8_t*>(c.raw());
    const U* pa = static_cast<const U*>(a.raw());
    const U* pb = static_cast<const U*>(b.raw());
    U* py = static_cast<U*>(y.raw());
    if (flat)
      where_kernel<U, false><<<blocks_for(n), kThreads, 0, env.stream()>>>(pc, pa, pb, py, n, w);
    else
      where_kernel<U, true><<<blocks_for(n), kThreads, 0, env.stream()>>>(pc, pa, pb, py, n, w);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// Trilu and Dropout

template <class U>
__global__ void trilu_kernel(const U* x, U* y, int64_t n, int64_t rows, int64_t cols, int64_t k, bool upper) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t q = i / cols;
    const int64_t j = i - q * cols;  // column
    const int64_t r = q % rows;      // row within its matrix
    const bool keep = upper ? j - r >= k : j - r <= k;
    y[i] = keep ? x[i] : U(0);
  }
}

void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  R1_CHECK(x.rank() >= 2, InputError) << "Trilu: input must have rank >= 2, got " << shape_str(x.shape());
  if (y.numel() == 0) return;
  int64_t k = 0;
  if (ctx.has_input(1)) {  // host input
    std::vector<int64_t> kv = ctx.input(1).to_int64_vector();
    if (!kv.empty()) k = kv[0];
  }
  const bool upper = ctx.attrs().get_int("upper", 1) != 0;
  const int64_t N = x.shape()[x.rank() - 2], M = x.shape()[x.rank() - 1];
  const int64_t n = x.numel();
  KernelLaunch env(ctx);
  dispatch_bytes(esize(x), [&](auto tag) {
    using U = decltype(tag);
    trilu_kernel<U><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()),
                                                                  static_cast<U*>(y.raw()), n, N, M, k, upper);
    R1_GPU_CHECK_LAUNCH();
  });
}

// Inference only (shape inference rejects training mode): output 0 is a view of the input, the
// optional mask is all true.
void dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x);
  if (ctx.has_output(1)) {
    Tensor& m = ctx.output(1);
    if (m.nbytes()) {
      KernelLaunch env(ctx);
      R1_GPU_CHECK(gpuMemsetAsync(m.raw(), 1, m.nbytes(), env.stream()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cast / CastLike, with the CPU kernel's conversions: floats truncate toward zero into integers
// (NaN -> 0, out of range saturates), anything -> bool is "!= 0", integers narrow by wrapping,
// integers go to 16-bit floats through float.

template <class S>
struct IntT {
  using storage = S;
};
struct BoolT {
  using storage = uint8_t;  // r1 stores bool as one byte
};

template <class T>
constexpr bool kFloatTag = std::is_same_v<T, F32> || std::is_same_v<T, F16> || std::is_same_v<T, BF16>;

// Integer limits as floats (no std::numeric_limits in device code): lo is exact, hi is max + 1
// rounded to float (a power of two), which is where saturation starts.
template <class I>
struct Lim;
template <>
struct Lim<int8_t> {
  static constexpr float lo = -128.0f, hi = 127.0f;
  static constexpr int8_t min = -128, max = 127;
};
template <>
struct Lim<uint8_t> {
  static constexpr float lo = 0.0f, hi = 255.0f;
  static constexpr uint8_t min = 0, max = 255;
};
template <>
struct Lim<int32_t> {
  static constexpr float lo = -2147483648.0f, hi = 2147483648.0f;
  static constexpr int32_t min = INT32_MIN, max = INT32_MAX;
};
template <>
struct Lim<int64_t> {
  static constexpr float lo = -9223372036854775808.0f, hi = 9223372036854775808.0f;
  static constexpr int64_t min = INT64_MIN, max = INT64_MAX;
};

template <class I>
__device__ inline I float_to_int(float f) {
  if (f != f) return I(0);  // NaN
  if (f >= Lim<I>::hi) return Lim<I>::max;
  if (f <= Lim<I>::lo) return Lim<I>::min;
  return static_cast<I>(f);  // truncates toward zero; in range here
}

template <class D, class S>
__device__ inline typename D::storage cast_one(typename S::storage s) {
  using DS = typename D::storage;
  if constexpr (kFloatTag<S>) {
    const float v = S::load(s);
    if constexpr (std::is_same_v<D, BoolT>)
      return static_cast<DS>(v != 0.0f);
    else if constexpr (kFloatTag<D>)
      return D::store(v);
    else
      return float_to_int<DS>(v);
  } else {
    // Integers and bool (a byte that is 0 or 1).
    using V = std::conditional_t<std::is_same_v<S, BoolT>, int32_t, typename S::storage>;
    const V v = std::is_same_v<S, BoolT> ? static_cast<V>(s != 0) : static_cast<V>(s);
    if constexpr (std::is_same_v<D, BoolT>)
      return static_cast<DS>(v != 0);
    else if constexpr (kFloatTag<D>)
      return D::store(static_cast<float>(v));
    else
      return static_cast<DS>(v);  // wraps when narrowing
  }
}

template <class S, class D>
__global__ void cast_kernel(const typename S::storage* x, typename D::storage* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = cast_one<D, S>(x[i]);
}

bool cast_type(DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int8:
    case DType::UInt8:
    case DType::Int32:
    case DType::Int64:
    case DType::Bool:
      return true;
    default:
      return false;
  }
}

template <class F>
void dispatch_cast_type(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      f(F32{});
      return;
    case DType::Float16:
      f(F16{});
      return;
    case DType::BFloat16:
      f(BF16{});
      return;
    case DType::Int8:
      f(IntT<int8_t>{});
      return;
    case DType::UInt8:
      f(IntT<uint8_t>{});
      return;
    case DType::Int32:
      f(IntT<int32_t>{});
      return;
    case DType::Int64:
      f(IntT<int64_t>{});
      return;
    case DType::Bool:
      f(BoolT{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "Cast on " R1_GPU_BACKEND_NAME " does not support " << dtype_name(t);
}

void cast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  DType to = ctx.output_dtype(0);
  if (to == DType::Undefined)
    to = ctx.node().op_type == "CastLike" ? ctx.input(1).dtype() : static_cast<DType>(ctx.attrs().get_int("to", 0));
  if (to == x.dtype()) {
    ctx.set_output(0, x);  // no conversion: a view of the input
    return;
  }
  Tensor& y = ctx.output(0);
  const int64_t n = x.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  dispatch_cast_type(x.dtype(), [&](auto stag) {
    using S = decltype(stag);
    dispatch_cast_type(to, [&](auto dtag) {
      using D = decltype(dtag);
      cast_kernel<S, D><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const typename S::storage*>(x.raw()),
                                                                      static_cast<typename D::storage*>(y.raw()), n);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// Exactly the pairs cast() handles: both dtypes among the eight above.
bool cast_supported(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.empty() || !n.outputs[0]) return false;
  return cast_type(n.inputs[0]->dtype) && cast_type(n.outputs[0]->dtype);
}

}  // namespace

void register_data_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1, kIn2 = 1u << 2, kIn3 = 1u << 3, kIn4 = 1u << 4;
  t.add("Transpose", transpose, "", 0, supports_any_dtype);
  t.add("Concat", concat, "", 0, supports_any_dtype);
  t.add("Split", split, "", kIn1, supports_any_dtype);
  t.add("Slice", slice, "", kIn1 | kIn2 | kIn3 | kIn4, supports_any_dtype);
  t.add("Expand", expand, "", kIn1, supports_any_dtype);
  t.add("Tile", tile, "", kIn1, supports_any_dtype);
  t.add("Pad", pad, "", kIn1 | kIn2 | kIn3, supports_any_dtype);
  t.add("Where", where, "", 0, supports_any_dtype);
  t.add("Trilu", trilu, "", kIn1, supports_any_dtype);
  t.add("Dropout", dropout, "", 0, supports_any_dtype);
  t.add("Cast", cast, "", 0, cast_supported);
  t.add("CastLike", cast, "", 0, cast_supported);
}

}  // namespace r1::gpu
