// CPU kernels of CumSum and CumProd (exclusive and reverse modes).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

template <bool kProduct>
void cumulative(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> av = ctx.input(1).to_int64_vector();
  R1_CHECK(av.size() == 1, InputError) << ctx.node().op_type << ": axis must be a scalar";
  int r = x.rank();
  int ax = normalize_axis(av[0], r, kProduct ? "CumProd axis" : "CumSum axis");
  bool exclusive = ctx.attrs().get_int("exclusive", 0) != 0;
  bool reverse = ctx.attrs().get_int("reverse", 0) != 0;
  int64_t outer = 1, inner = 1, A = x.shape()[ax];
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  if (y.numel() == 0) return;
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = std::conditional_t<std::is_same_v<T, bool>, int64_t, compute_t<T>>;
    const T* s = x.data<T>();
    T* d = y.data<T>();
    ctx.pool().parallel_for(0, outer, std::max<int64_t>(1, kGrainElementwise / (A * inner)), [&](int64_t b, int64_t e) {
      std::vector<C> acc(inner);
      for (int64_t o = b; o < e; ++o) {
        std::fill(acc.begin(), acc.end(), C(kProduct ? 1 : 0));
        for (int64_t kk = 0; kk < A; ++kk) {
          int64_t k = reverse ? A - 1 - kk : kk;
          const T* srow = s + (o * A + k) * inner;
          T* drow = d + (o * A + k) * inner;
          if (exclusive) {
            for (int64_t i = 0; i < inner; ++i) {
              drow[i] = convert<T>(acc[i]);
              if constexpr (kProduct)
                acc[i] *= static_cast<C>(srow[i]);
              else
                acc[i] += static_cast<C>(srow[i]);
            }
          } else {
            for (int64_t i = 0; i < inner; ++i) {
              if constexpr (kProduct)
                acc[i] *= static_cast<C>(srow[i]);
              else
                acc[i] += static_cast<C>(srow[i]);
              drow[i] = convert<T>(acc[i]);
            }
          }
        }
      }
    });
  });
}

}  // namespace

void register_cumsum_kernels(KernelTable& t) {
  t.add("CumSum", cumulative<false>);
  t.add("CumProd", cumulative<true>);
}
}  // namespace r1::cpu
