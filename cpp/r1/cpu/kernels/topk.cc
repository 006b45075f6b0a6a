// CPU kernel of TopK: a partial sort per lane along the axis (larger or smaller values first, equal
// values by lower index).
#include <algorithm>
#include <utility>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/reduce_util.h"

namespace r1::cpu {
namespace {

template <class T>
void run_topk(const T* px, T* pv, int64_t* pi, int64_t outer, int64_t L, int64_t inner, int64_t k, bool largest,
              ThreadPool& pool) {
  using C = compute_t<T>;
  int64_t lanes = outer * inner;
  pool.parallel_for(0, lanes, grain_for(L * 8), [&](int64_t b, int64_t e) {
    std::vector<std::pair<C, int64_t>> buf(L);
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / inner, i = t % inner;
      const T* x = px + o * L * inner + i;
      for (int64_t j = 0; j < L; ++j) buf[j] = {cv(x[j * inner]), j};
      auto cmp_l = [](const std::pair<C, int64_t>& a, const std::pair<C, int64_t>& c) {
        return a.first > c.first || (a.first == c.first && a.second < c.second);
      };
      auto cmp_s = [](const std::pair<C, int64_t>& a, const std::pair<C, int64_t>& c) {
        return a.first < c.first || (a.first == c.first && a.second < c.second);
      };
      if (largest)
        std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), cmp_l);
      else
        std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), cmp_s);
      T* v = pv + o * k * inner + i;
      int64_t* ix = pi + o * k * inner + i;
      for (int64_t j = 0; j < k; ++j) {
        v[j * inner] = convert<T>(buf[j].first);
        ix[j * inner] = buf[j].second;
      }
    }
  });
}

void topk_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int rank = x.rank();
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  int64_t k = ctx.opset() < 10 ? ctx.attrs().get_int("k", 0) : ctx.input(1).to_int64_vector().at(0);
  bool largest = ctx.attrs().get_int("largest", 1) != 0;
  const Shape& s = x.shape();
  R1_CHECK(k >= 0 && k <= s[axis], InputError) << "TopK k=" << k << " out of range for axis length " << s[axis];
  Shape os = s;
  os[axis] = k;
  Tensor& v = ctx.allocate_output(0, os, x.dtype());
  Tensor& ix = ctx.allocate_output(1, os, DType::Int64);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  if (v.numel() == 0) return;
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_topk<T>(x.data<T>(), v.data<T>(), ix.data<int64_t>(), outer, s[axis], inner, k, largest, ctx.pool());
  });
}

}  // namespace

void register_topk_kernels(KernelTable& t) { t.add("TopK", topk_kernel); }
}  // namespace r1::cpu
