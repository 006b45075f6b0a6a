// CPU kernels of the shape family: views (Reshape, Squeeze, ...), data movement (Transpose,
// Concat, Split, Slice, Expand, Tile, Pad, DepthToSpace) and shape queries. Index ops
// (Gather*, Scatter*, OneHot, CumSum, NonZero) live in shape_index.cc.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"
#include "r1/cpu/kernels/copy_util.h"

namespace r1::cpu {

// ---------------------------------------------------------------------------------------------
// Strided copy engine

namespace {

template <class U>
void transpose_block(const U* s, U* d, int64_t R, int64_t C, int64_t col_stride, int64_t i0, int64_t i1) {
  // d[i*C + j] = s[i + j*col_stride], for rows i in [i0, i1)
  constexpr int64_t B = 32;
  for (int64_t jb = 0; jb < C; jb += B) {
    int64_t je = std::min(C, jb + B);
    for (int64_t i = i0; i < i1; ++i) {
      U* drow = d + i * C;
      const U* scol = s + i;
      for (int64_t j = jb; j < je; ++j) drow[j] = scol[j * col_stride];
    }
  }
  (void)R;
}

}  // namespace

void strided_copy(const void* src_v, void* dst_v, size_t es, const Shape& out_in, const std::vector<int64_t>& st_in,
                  ThreadPool& pool) {
  int64_t total = 1;
  for (int64_t d : out_in) total *= d;
  if (total == 0) return;
  // Simplify: drop size-1 dims, merge dims that are contiguous with each other.
  Shape out;
  std::vector<int64_t> st;
  for (size_t i = 0; i < out_in.size(); ++i) {
    if (out_in[i] == 1) continue;
    if (!out.empty() && st.back() == st_in[i] * out_in[i]) {
      out.back() *= out_in[i];
      st.back() = st_in[i];
    } else {
      out.push_back(out_in[i]);
      st.push_back(st_in[i]);
    }
  }
  const char* src = static_cast<const char*>(src_v);
  char* dst = static_cast<char*>(dst_v);
  int r = static_cast<int>(out.size());
  if (r == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  if (r == 1 && st[0] == 1) {
    int64_t bytes = total * static_cast<int64_t>(es);
    pool.parallel_for(0, bytes, 1 << 20, [&](int64_t b, int64_t e) { std::memcpy(dst + b, src + b, e - b); });
    return;
  }
  dispatch_size(es, [&](auto tag) {
    using U = decltype(tag);
    const U* s = reinterpret_cast<const U*>(src);
    U* d = reinterpret_cast<U*>(dst);
    // Blocked transpose of the inner two dims: input-contiguous along dim r-2.
    if (r >= 2 && st[r - 2] == 1 && st[r - 1] != 1 && out[r - 1] >= 4 && out[r - 2] >= 4) {
      int64_t R = out[r - 2], C = out[r - 1], cs = st[r - 1];
      int64_t mats = total / (R * C);
      constexpr int64_t RB = 32;
      int64_t rblocks = (R + RB - 1) / RB;
      pool.parallel_for(0, mats * rblocks, std::max<int64_t>(1, 16384 / (RB * C)), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          int64_t m = t / rblocks, rb = t % rblocks;
          int64_t rem = m, off = 0;
          for (int k = r - 3; k >= 0; --k) {
            off += (rem % out[k]) * st[k];
            rem /= out[k];
          }
          transpose_block(s + off, d + m * R * C, R, C, cs, rb * RB, std::min(R, rb * RB + RB));
        }
      });
      return;
    }
    int64_t row = out[r - 1], inner = st[r - 1];
    int64_t rows = total / row;
    pool.parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / row), [&](int64_t b, int64_t e) {
      // Odometer over the outer dims, started at row b.
      std::vector<int64_t> idx(r > 1 ? r - 1 : 1, 0);
      int64_t rem = b, off = 0;
      for (int k = r - 2; k >= 0; --k) {
        idx[k] = rem % out[k];
        rem /= out[k];
        off += idx[k] * st[k];
      }
      for (int64_t rr = b; rr < e; ++rr) {
        U* drow = d + rr * row;
        const U* srow = s + off;
        if (inner == 1) {
          std::memcpy(drow, srow, row * sizeof(U));
        } else if (inner == 0) {
          U v = srow[0];
          for (int64_t j = 0; j < row; ++j) drow[j] = v;
        } else {
          for (int64_t j = 0; j < row; ++j) drow[j] = srow[j * inner];
        }
        for (int k = r - 2; k >= 0; --k) {
          off += st[k];
          if (++idx[k] < out[k]) break;
          off -= idx[k] * st[k];
          idx[k] = 0;
        }
      }
    });
  });
}

void permute_copy(const void* src, void* dst, size_t es, const Shape& in_shape, const std::vector<int64_t>& perm,
                  ThreadPool& pool) {
  std::vector<int64_t> in_st = contiguous_strides(in_shape);
  Shape out(perm.size());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out[i] = in_shape[perm[i]];
    st[i] = in_st[perm[i]];
  }
  strided_copy(src, dst, es, out, st, pool);
}

namespace {
using namespace shape_ops;

size_t esize(const Tensor& t) { return dtype_size(t.dtype()); }

// ---------------------------------------------------------------------------------------------
// Views

void reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> spec = ctx.input(1).to_int64_vector();
  bool allowzero = ctx.opset() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  ctx.set_output(0, x.reshape(reshape_shape(&x.shape(), spec, allowzero)));
}

void flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x.reshape(flatten_shape(x.shape(), ctx.attrs().get_int("axis", 1))));
}

void squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes;
  bool has_axes;
  if (ctx.opset() >= 13) {
    has_axes = ctx.has_input(1);
    if (has_axes) axes = ctx.input(1).to_int64_vector();
  } else {
    has_axes = ctx.attrs().has("axes");
    axes = ctx.attrs().get_ints("axes");
  }
  ctx.set_output(0, x.reshape(squeeze_shape(x.shape(), axes, has_axes)));
}

void unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.opset() >= 13 ? ctx.input(1).to_int64_vector() : ctx.attrs().get_ints("axes");
  ctx.set_output(0, x.reshape(unsqueeze_shape(x.shape(), axes)));
}

void identity(KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); }

void dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output(0, x);
  if (ctx.has_output(1)) {
    Tensor& m = ctx.output(1);
    if (m.numel()) std::memset(m.raw(), 1, m.nbytes());
  }
}

// ---------------------------------------------------------------------------------------------
// Data movement

void transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> perm = transpose_perm(ctx.attrs(), x.rank());
  permute_copy(x.raw(), y.raw(), esize(x), x.shape(), perm, ctx.pool());
}

void concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  int r = y.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Concat axis");
  size_t es = esize(y);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= y.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= y.shape()[i];
  int64_t out_row = y.shape()[ax] * inner * es;
  if (y.numel() == 0) return;
  char* dst = static_cast<char*>(y.raw());
  // One task per (outer row, input) pair so that few big chunks still spread over the threads.
  std::vector<const char*> srcs;
  std::vector<int64_t> chunks, offs;
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) continue;
    const Tensor& x = ctx.input(k);
    int64_t chunk = x.shape()[ax] * inner * es;
    if (chunk == 0) continue;
    srcs.push_back(static_cast<const char*>(x.raw()));
    chunks.push_back(chunk);
    offs.push_back(off);
    off += chunk;
  }
  int64_t nin = static_cast<int64_t>(srcs.size());
  if (nin == 0) return;
  int64_t avg = std::max<int64_t>(1, out_row / nin);
  ctx.pool().parallel_for(0, outer * nin, std::max<int64_t>(1, (1 << 16) / avg), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nin, k = t % nin;
      std::memcpy(dst + o * out_row + offs[k], srcs[k] + o * chunks[k], chunks[k]);
    }
  });
}

void split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int r = x.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Split axis");
  size_t es = esize(x);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  int64_t in_row = x.shape()[ax] * inner * es;
  const char* src = static_cast<const char*>(x.raw());
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    Tensor& y = ctx.output(k);
    int64_t chunk = y.shape()[ax] * inner * es;
    if (chunk != 0 && outer != 0) {
      char* dst = static_cast<char*>(y.raw());
      ctx.pool().parallel_for(0, outer, std::max<int64_t>(1, (1 << 16) / chunk), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) std::memcpy(dst + o * chunk, src + o * in_row + off, chunk);
      });
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
  } else {
    starts = ctx.input(1).to_int64_vector();
    ends = ctx.input(2).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
    if (ctx.has_input(4)) steps = ctx.input(4).to_int64_vector();
  }
  Shape out;
  std::vector<int64_t> st, sp;
  slice_plan(x.shape(), starts, ends, axes, steps, &out, &st, &sp);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(x.rank());
  for (int i = 0; i < x.rank(); ++i) {
    base += st[i] * in_st[i];
    strides[i] = sp[i] * in_st[i];
  }
  size_t es = esize(x);
  strided_copy(static_cast<const char*>(x.raw()) + base * es, y.raw(), es, out, strides, ctx.pool());
}

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = y.rank(), off = r - x.rank();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  std::vector<int64_t> st(r, 0);
  for (int i = 0; i < x.rank(); ++i) st[off + i] = (x.shape()[i] == 1) ? 0 : in_st[i];
  strided_copy(x.raw(), y.raw(), esize(x), y.shape(), st, ctx.pool());
}

void tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> rep = ctx.input(1).to_int64_vector();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape s;
  std::vector<int64_t> st;
  for (int i = 0; i < x.rank(); ++i) {
    s.push_back(rep[i]);
    st.push_back(0);
    s.push_back(x.shape()[i]);
    st.push_back(in_st[i]);
  }
  strided_copy(x.raw(), y.raw(), esize(x), s, st, ctx.pool());
}

// Source index along a dim of length n for padded position p (p already shifted by -pad_begin).
int64_t pad_source(int64_t p, int64_t n, int mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 0:
      return -1;  // constant
    case 1: {     // reflect
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t q = ((p % period) + period) % period;
      return q < n ? q : period - q;
    }
    case 2:
      return p < 0 ? 0 : n - 1;  // edge
    default:
      return ((p % n) + n) % n;  // wrap
  }
}

void pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  std::string mode_s = ctx.attrs().get_string("mode", "constant");
  int mode = mode_s == "constant" ? 0 : mode_s == "reflect" ? 1 : mode_s == "edge" ? 2 : 3;
  std::vector<int64_t> pads, axes;
  if (ctx.opset() < 11) {
    pads = ctx.attrs().get_ints("pads");
  } else {
    pads = ctx.input(1).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
  }
  std::vector<int64_t> pb, pe;
  pad_plan(r, pads, axes, &pb, &pe);
  if (y.numel() == 0) return;
  if (r == 0) {
    std::memcpy(y.raw(), x.raw(), esize(x));
    return;
  }
  std::vector<std::vector<int64_t>> maps(r);
  for (int d = 0; d < r; ++d) {
    int64_t n = x.shape()[d];
    maps[d].resize(y.shape()[d]);
    for (int64_t p = 0; p < y.shape()[d]; ++p) maps[d][p] = pad_source(p - pb[d], n, mode);
  }
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T padv = convert<T>(0.0f);
    if (ctx.opset() < 11) {
      padv = convert<T>(ctx.attrs().get_float("value", 0.0f));
    } else if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
      R1_CHECK(ctx.input(2).dtype() == x.dtype(), InputError) << "Pad: constant_value must match the data dtype";
      padv = ctx.input(2).data<T>()[0];
    }
    const T* s = x.data<T>();
    T* o = y.data<T>();
    int64_t row = y.shape()[r - 1];
    int64_t rows = y.numel() / row;
    const std::vector<int64_t>& last = maps[r - 1];
    ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / row), [&](int64_t b, int64_t e) {
      for (int64_t rr = b; rr < e; ++rr) {
        int64_t rem = rr, off = 0;
        bool fill = false;
        for (int k = r - 2; k >= 0; --k) {
          int64_t m = maps[k][rem % y.shape()[k]];
          rem /= y.shape()[k];
          if (m < 0) fill = true;
          off += m * in_st[k];
        }
        T* orow = o + rr * row;
        if (fill) {
          for (int64_t j = 0; j < row; ++j) orow[j] = padv;
          continue;
        }
        const T* srow = s + off;
        for (int64_t j = 0; j < row; ++j) {
          int64_t m = last[j];
          orow[j] = m < 0 ? padv : srow[m];
        }
      }
    });
  });
}

void depth_to_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t b = ctx.attrs().get_int("blocksize", 0);
  bool crd = ctx.attrs().get_string("mode", "DCR") == "CRD";
  const Shape& s = x.shape();
  int64_t n = s[0], c = s[1] / (b * b), h = s[2], w = s[3];
  if (crd) {
    permute_copy(x.raw(), y.raw(), esize(x), {n, c, b, b, h, w}, {0, 1, 4, 2, 5, 3}, ctx.pool());
  } else {
    permute_copy(x.raw(), y.raw(), esize(x), {n, b, b, c, h, w}, {0, 3, 4, 1, 5, 2}, ctx.pool());
  }
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t b = ctx.attrs().get_int("blocksize", 0);
  const Shape& s = x.shape();
  bool crd = ctx.attrs().get_string("mode", "DCR") == "CRD";
  permute_copy(x.raw(), y.raw(), esize(x), {s[0], s[1], s[2] / b, b, s[3] / b, b},
               crd ? std::vector<int64_t>{0, 1, 3, 5, 2, 4} : std::vector<int64_t>{0, 3, 5, 1, 2, 4}, ctx.pool());
}

// ---------------------------------------------------------------------------------------------
// Shape queries and generators

void shape_op(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  int64_t s = 0, e = r;
  if (ctx.opset() >= 15) {
    s = ctx.attrs().get_int("start", 0);
    e = ctx.attrs().get_int("end", r);
  }
  auto fix = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  s = fix(s);
  e = fix(e);
  int64_t* p = y.data<int64_t>();
  for (int64_t i = s; i < e; ++i) p[i - s] = x.shape()[i];
}

void size_op(KernelContext& ctx) { ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel(); }

void constant_of_shape(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const Tensor* v = ctx.attrs().get_tensor("value");
  if (y.numel() == 0) return;
  if (!v) {
    std::memset(y.raw(), 0, y.nbytes());
    return;
  }
  dispatch_size(esize(y), [&](auto tag) {
    using U = decltype(tag);
    U val;
    std::memcpy(&val, v->raw(), sizeof(U));
    U* p = static_cast<U*>(y.raw());
    ctx.pool().parallel_for(0, y.numel(), kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = val;
    });
  });
}

void range(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  dispatch_numeric(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = y.data<T>();
    int64_t n = y.numel();
    if constexpr (std::is_integral_v<T>) {
      int64_t s = ctx.input(0).to_int64_vector()[0], d = ctx.input(2).to_int64_vector()[0];
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(s + i * d);
    } else {
      using C = compute_t<T>;
      C s = static_cast<C>(ctx.input(0).data<T>()[0]), d = static_cast<C>(ctx.input(2).data<T>()[0]);
      for (int64_t i = 0; i < n; ++i) p[i] = convert<T>(s + static_cast<C>(i) * d);
    }
  });
}

void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  int64_t k = 0;
  if (ctx.has_input(1)) {
    std::vector<int64_t> kv = ctx.input(1).to_int64_vector();
    if (!kv.empty()) k = kv[0];
  }
  bool upper = ctx.attrs().get_int("upper", 1) != 0;
  int64_t N = x.shape()[x.rank() - 2], M = x.shape()[x.rank() - 1];
  size_t es = esize(x);
  int64_t rows = x.numel() / M;
  const char* s = static_cast<const char*>(x.raw());
  char* d = static_cast<char*>(y.raw());
  ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / M), [&](int64_t b, int64_t e) {
    for (int64_t rr = b; rr < e; ++rr) {
      int64_t i = rr % N;
      // keep columns j with j - i >= k (upper) or j - i <= k (lower)
      int64_t lo, hi;  // kept range [lo, hi)
      if (upper) {
        lo = std::clamp<int64_t>(i + k, 0, M);
        hi = M;
      } else {
        lo = 0;
        hi = std::clamp<int64_t>(i + k + 1, 0, M);
      }
      char* drow = d + rr * M * es;
      const char* srow = s + rr * M * es;
      if (lo > 0) std::memset(drow, 0, lo * es);
      if (hi > lo) std::memcpy(drow + lo * es, srow + lo * es, (hi - lo) * es);
      if (hi < M) std::memset(drow + hi * es, 0, (M - hi) * es);
    }
  });
}

void eye_like(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  std::memset(y.raw(), 0, y.nbytes());
  int64_t k = ctx.attrs().get_int("k", 0);
  int64_t N = y.shape()[0], M = y.shape()[1];
  dispatch_all(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T one = convert<T>(1.0f);
    T* p = y.data<T>();
    for (int64_t i = 0; i < N; ++i) {
      int64_t j = i + k;
      if (j >= 0 && j < M) p[i * M + j] = one;
    }
  });
}

}  // namespace

void register_shape_kernels(KernelTable& t) {
  t.add("Reshape", reshape);
  t.add("Flatten", flatten);
  t.add("Squeeze", squeeze);
  t.add("Unsqueeze", unsqueeze);
  t.add("Identity", identity);
  t.add("Dropout", dropout);
  t.add("Transpose", transpose);
  t.add("Concat", concat);
  t.add("Split", split);
  t.add("Slice", slice);
  t.add("Expand", expand);
  t.add("Tile", tile);
  t.add("Pad", pad);
  t.add("DepthToSpace", depth_to_space);
  t.add("SpaceToDepth", space_to_depth);
  t.add("Shape", shape_op);
  t.add("Size", size_op);
  t.add("ConstantOfShape", constant_of_shape);
  t.add("Range", range);
  t.add("Trilu", trilu);
  t.add("EyeLike", eye_like);
  register_shape_index_kernels(t);
}
}  // namespace r1::cpu
