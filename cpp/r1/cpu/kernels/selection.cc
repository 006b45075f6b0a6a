// CPU kernels of Compress and Unique (their output sizes depend on the data).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// outer x axis x inner view of a shape around `axis`.
struct Split3 {
  int64_t outer = 1, len = 1, inner = 1;
};
Split3 split_at(const Shape& s, int axis) {
  Split3 r;
  for (int i = 0; i < axis; ++i) r.outer *= s[i];
  r.len = s[axis];
  for (size_t i = axis + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}

void compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  R1_CHECK(cond.rank() == 1, InputError) << "Compress: condition must be 1-D, got " << cond.describe();
  const bool* c = cond.data<bool>();
  bool has_axis = ctx.attrs().has("axis");
  int axis = has_axis ? normalize_axis(ctx.attrs().get_int("axis", 0), x.rank(), "Compress axis") : 0;
  Shape s = has_axis ? x.shape() : Shape{x.numel()};
  Split3 g = split_at(s, axis);
  R1_CHECK(cond.numel() <= g.len, InputError)
      << "Compress: condition holds " << cond.numel() << " values for an axis of length " << g.len;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i)
    if (c[i]) keep.push_back(i);
  Shape os = s;
  os[axis] = static_cast<int64_t>(keep.size());
  Tensor& y = ctx.allocate_output(0, os, x.dtype());
  size_t row = static_cast<size_t>(g.inner) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t k : keep) {
      std::memcpy(dst, src + (o * g.len + k) * row, row);
      dst += row;
    }
}

// Unique values (no axis: of the flattened input) or unique slices along an axis; sorted ascending
// (slices lexicographically) or in order of first occurrence.
template <class T>
void unique_typed(KernelContext& ctx, const Tensor& x, bool has_axis, int axis, bool sorted) {
  using C = compute_t<T>;
  Shape s = has_axis ? x.shape() : Shape{x.numel()};
  Split3 g = split_at(s, axis);
  int64_t width = g.outer * g.inner;
  const T* px = x.data<T>();
  std::vector<C> vals(static_cast<size_t>(g.len * width));  // slice k: vals[k * width ...]
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t k = 0; k < g.len; ++k)
      for (int64_t i = 0; i < g.inner; ++i)
        vals[k * width + o * g.inner + i] = static_cast<C>(px[(o * g.len + k) * g.inner + i]);
  auto less = [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(vals.begin() + a * width, vals.begin() + (a + 1) * width,
                                        vals.begin() + b * width, vals.begin() + (b + 1) * width);
  };
  auto equal = [&](int64_t a, int64_t b) {
    return std::equal(vals.begin() + a * width, vals.begin() + (a + 1) * width, vals.begin() + b * width);
  };
  std::vector<int64_t> order(static_cast<size_t>(g.len));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), less);  // equal slices keep their first occurrence first
  std::vector<int64_t> first, counts, group_of(static_cast<size_t>(g.len));
  for (size_t j = 0; j < order.size(); ++j) {
    if (j == 0 || !equal(order[j - 1], order[j])) {
      first.push_back(order[j]);
      counts.push_back(0);
    }
    group_of[order[j]] = static_cast<int64_t>(first.size()) - 1;
    ++counts.back();
  }
  int64_t u = static_cast<int64_t>(first.size());
  std::vector<int64_t> rank(static_cast<size_t>(u));  // group -> output position
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {  // output in order of first occurrence
    std::vector<int64_t> by_first(static_cast<size_t>(u));
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
    for (int64_t p = 0; p < u; ++p) rank[by_first[p]] = p;
  }
  Shape ys = s;
  ys[axis] = u;
  Tensor& y = ctx.allocate_output(0, ys, x.dtype());
  T* py = y.data<T>();
  std::vector<int64_t> idx(static_cast<size_t>(u)), cnt(static_cast<size_t>(u));
  for (int64_t grp = 0; grp < u; ++grp) {
    int64_t p = rank[grp], k = first[grp];
    idx[p] = k;
    cnt[p] = counts[grp];
    for (int64_t o = 0; o < g.outer; ++o)
      std::memcpy(py + (o * u + p) * g.inner, px + (o * g.len + k) * g.inner, sizeof(T) * g.inner);
  }
  if (ctx.has_output(1)) std::copy(idx.begin(), idx.end(), ctx.allocate_output(1, {u}, DType::Int64).data<int64_t>());
  if (ctx.has_output(2)) {
    int64_t* inv = ctx.allocate_output(2, {g.len}, DType::Int64).data<int64_t>();
    for (int64_t k = 0; k < g.len; ++k) inv[k] = rank[group_of[k]];
  }
  if (ctx.has_output(3)) std::copy(cnt.begin(), cnt.end(), ctx.allocate_output(3, {u}, DType::Int64).data<int64_t>());
}

void unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool has_axis = ctx.attrs().has("axis");
  int axis = has_axis ? normalize_axis(ctx.attrs().get_int("axis", 0), x.rank(), "Unique axis") : 0;
  bool sorted = ctx.attrs().get_int("sorted", 1) != 0;
  dispatch_numeric(x.dtype(), [&](auto tag) { unique_typed<decltype(tag)>(ctx, x, has_axis, axis, sorted); });
}

}  // namespace

void register_selection_kernels(KernelTable& t) {
  t.add("Compress", compress);
  t.add("Unique", unique);
}
}  // namespace r1::cpu
