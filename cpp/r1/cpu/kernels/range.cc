// CPU kernel of Range.
#include <cmath>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

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

}  // namespace

void register_range_kernels(KernelTable& t) { t.add("Range", range); }
}  // namespace r1::cpu
