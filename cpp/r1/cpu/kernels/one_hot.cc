// CPU kernel of OneHot.
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void one_hot(KernelContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& vals = ctx.input(2);
  Tensor& y = ctx.output(0);
  R1_CHECK(vals.numel() == 2, InputError) << "OneHot: values must hold 2 elements";
  int64_t depth = static_cast<int64_t>(ctx.input(1).scalar_as_double(0));
  int r = y.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", -1), r, "OneHot axis");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= ind.shape()[i];
  for (int i = ax; i < ind.rank(); ++i) inner *= ind.shape()[i];
  std::vector<int64_t> idx(ind.numel());
  dispatch_numeric(ind.dtype(), [&](auto tag) {
    using I = decltype(tag);
    const I* p = ind.data<I>();
    for (int64_t i = 0; i < ind.numel(); ++i) idx[i] = static_cast<int64_t>(static_cast<compute_t<I>>(p[i]));
  });
  dispatch_size(esize(vals), [&](auto tag) {
    using U = decltype(tag);
    const U* v = static_cast<const U*>(vals.raw());
    U off = v[0], on = v[1];
    U* d = static_cast<U*>(y.raw());
    for (int64_t i = 0; i < y.numel(); ++i) d[i] = off;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = idx[o * inner + i];
        if (k < 0) k += depth;
        if (k >= 0 && k < depth) d[(o * depth + k) * inner + i] = on;
      }
  });
}

}  // namespace

void register_one_hot_kernels(KernelTable& t) { t.add("OneHot", one_hot); }
}  // namespace r1::cpu
