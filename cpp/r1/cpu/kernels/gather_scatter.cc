// CPU kernels of the index ops: Gather, GatherElements, GatherND, ScatterND, ScatterElements and the
// deprecated Scatter.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

int64_t norm_index(int64_t v, int64_t n, const char* op) {
  R1_CHECK(v >= -n && v < n, InputError) << op << ": index " << v << " is out of range for a dim of size " << n;
  return v < 0 ? v + n : v;
}

std::vector<int64_t> read_indices(const Tensor& t, const char* op) {
  R1_CHECK(t.dtype() == DType::Int32 || t.dtype() == DType::Int64, InputError)
      << op << ": indices must be int32 or int64, got " << dtype_name(t.dtype());
  return t.to_int64_vector();
}

void gather(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Gather axis");
  int64_t outer = 1, inner = 1, A = x.shape()[ax];
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  std::vector<int64_t> idx = read_indices(ind, "Gather");
  for (auto& v : idx) v = norm_index(v, A, "Gather");
  int64_t N = static_cast<int64_t>(idx.size());
  if (y.numel() == 0) return;
  size_t es = esize(x);
  dispatch_size(es, [&](auto tag) {
    using U = decltype(tag);
    const U* s = static_cast<const U*>(x.raw());
    U* d = static_cast<U*>(y.raw());
    ctx.pool().parallel_for(0, outer * N, std::max<int64_t>(1, kGrainElementwise / inner), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t o = t / N, i = t % N;
        const U* src = s + (o * A + idx[i]) * inner;
        U* dst = d + t * inner;
        if (inner == 1)
          dst[0] = src[0];
        else
          std::memcpy(dst, src, inner * sizeof(U));
      }
    });
  });
}

void gather_elements(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "GatherElements axis");
  std::vector<int64_t> idx = read_indices(ind, "GatherElements");
  if (y.numel() == 0) return;
  const Shape& is = ind.shape();
  std::vector<int64_t> dst_st = contiguous_strides(x.shape());
  int64_t A = x.shape()[ax];
  int64_t row = is[r - 1];
  int64_t rows = y.numel() / row;
  dispatch_size(esize(x), [&](auto tag) {
    using U = decltype(tag);
    const U* s = static_cast<const U*>(x.raw());
    U* d = static_cast<U*>(y.raw());
    ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / row), [&](int64_t b, int64_t e) {
      for (int64_t rr = b; rr < e; ++rr) {
        int64_t rem = rr, base = 0;
        for (int k = r - 2; k >= 0; --k) {
          int64_t c = rem % is[k];
          rem /= is[k];
          if (k != ax) base += c * dst_st[k];
        }
        int64_t jstep = (ax == r - 1) ? 0 : dst_st[r - 1];
        for (int64_t j = 0; j < row; ++j) {
          int64_t v = norm_index(idx[rr * row + j], A, "GatherElements");
          d[rr * row + j] = s[base + j * jstep + v * dst_st[ax]];
        }
      }
    });
  });
}

void gather_nd(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  int64_t b = ctx.opset() >= 12 ? ctx.attrs().get_int("batch_dims", 0) : 0;
  std::vector<int64_t> idx = read_indices(ind, "GatherND");
  const Shape& ds = x.shape();
  const Shape& is = ind.shape();
  int q = ind.rank();
  int64_t k = is[q - 1];
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
  std::vector<int64_t> st = contiguous_strides(ds);
  if (y.numel() == 0) return;
  size_t es = esize(x);
  const char* s = static_cast<const char*>(x.raw());
  char* d = static_cast<char*>(y.raw());
  for (int64_t t = 0; t < B * M; ++t) {
    int64_t bi = t / M;
    int64_t off = bi * bstride;
    for (int64_t j = 0; j < k; ++j) off += norm_index(idx[t * k + j], ds[b + j], "GatherND") * st[b + j];
    std::memcpy(d + t * slice * es, s + off * es, slice * es);
  }
}

enum class Red { None, Add, Mul, Max, Min };

Red parse_reduction(const KernelContext& ctx, const char* op) {
  std::string r = ctx.attrs().get_string("reduction", "none");
  if (r == "none") return Red::None;
  if (r == "add") return Red::Add;
  if (r == "mul") return Red::Mul;
  if (r == "max") return Red::Max;
  if (r == "min") return Red::Min;
  R1_THROW(ModelError) << op << ": reduction '" << r << "' is not supported";
}

template <class T>
inline T reduce(Red red, T a, T b) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<T, bool>) {
    switch (red) {
      case Red::Add:
      case Red::Max:
        return a || b;
      case Red::Mul:
      case Red::Min:
        return a && b;
      default:
        return b;
    }
  } else {
    C x = static_cast<C>(a), y = static_cast<C>(b);
    switch (red) {
      case Red::Add:
        return convert<T>(x + y);
      case Red::Mul:
        return convert<T>(x * y);
      case Red::Max:
        return x >= y ? a : b;
      case Red::Min:
        return x <= y ? a : b;
      default:
        return b;
    }
  }
}

void scatter_nd(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  Red red = parse_reduction(ctx, "ScatterND");
  R1_CHECK(upd.dtype() == x.dtype(), InputError) << "ScatterND: updates dtype differs from data";
  std::vector<int64_t> idx = read_indices(ind, "ScatterND");
  const Shape& ds = x.shape();
  int q = ind.rank();
  int64_t k = ind.shape()[q - 1];
  R1_CHECK(k <= x.rank(), InputError) << "ScatterND: index tuples longer than data rank";
  int64_t slice = 1;
  for (size_t i = k; i < ds.size(); ++i) slice *= ds[i];
  int64_t n = k ? static_cast<int64_t>(idx.size()) / k : ind.numel();
  R1_CHECK(upd.numel() == n * slice, InputError)
      << "ScatterND: updates shape " << shape_str(upd.shape()) << " does not match indices and data";
  std::vector<int64_t> st = contiguous_strides(ds);
  if (y.numel()) std::memcpy(y.raw(), x.raw(), x.nbytes());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = y.data<T>();
    const T* u = upd.data<T>();
    for (int64_t t = 0; t < n; ++t) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) off += norm_index(idx[t * k + j], ds[j], "ScatterND") * st[j];
      T* dst = d + off;
      const T* src = u + t * slice;
      if (red == Red::None) {
        std::memcpy(dst, src, slice * sizeof(T));
      } else {
        for (int64_t i = 0; i < slice; ++i) dst[i] = reduce<T>(red, dst[i], src[i]);
      }
    }
  });
}

void scatter_elements(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  Red red = parse_reduction(ctx, "ScatterElements");
  R1_CHECK(upd.dtype() == x.dtype(), InputError) << "ScatterElements: updates dtype differs from data";
  R1_CHECK(ind.shape() == upd.shape(), InputError) << "ScatterElements: indices " << shape_str(ind.shape())
                                                   << " and updates " << shape_str(upd.shape()) << " differ";
  int r = x.rank();
  R1_CHECK(ind.rank() == r, InputError) << "ScatterElements: indices rank differs from data rank";
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "ScatterElements axis");
  std::vector<int64_t> idx = read_indices(ind, "ScatterElements");
  if (y.numel()) std::memcpy(y.raw(), x.raw(), x.nbytes());
  if (ind.numel() == 0) return;
  std::vector<int64_t> st = contiguous_strides(x.shape());
  const Shape& is = ind.shape();
  int64_t A = x.shape()[ax];
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = y.data<T>();
    const T* u = upd.data<T>();
    std::vector<int64_t> c(r, 0);
    int64_t n = ind.numel();
    for (int64_t t = 0; t < n; ++t) {
      int64_t off = 0;
      for (int k = 0; k < r; ++k) {
        if (k == ax) continue;
        R1_CHECK(c[k] < x.shape()[k], InputError) << "ScatterElements: indices shape exceeds data shape";
        off += c[k] * st[k];
      }
      off += norm_index(idx[t], A, "ScatterElements") * st[ax];
      d[off] = red == Red::None ? u[t] : reduce<T>(red, d[off], u[t]);
      for (int k = r - 1; k >= 0; --k) {
        if (++c[k] < is[k]) break;
        c[k] = 0;
      }
    }
  });
}

}  // namespace

void register_gather_scatter_kernels(KernelTable& t) {
  t.add("Gather", gather);
  t.add("GatherElements", gather_elements);
  t.add("GatherND", gather_nd);
  t.add("ScatterND", scatter_nd);
  t.add("ScatterElements", scatter_elements);
  t.add("Scatter", scatter_elements);
}
}  // namespace r1::cpu
