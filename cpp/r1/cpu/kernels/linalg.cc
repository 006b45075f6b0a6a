// CPU kernel of Det: LU factorization with partial pivoting, in double, one matrix per task.
#include <cmath>
#include <utility>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

double determinant(std::vector<double>& a, int64_t n) {
  double det = 1.0;
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    if (a[p * n + c] == 0.0) return 0.0;
    if (p != c) {
      for (int64_t k = 0; k < n; ++k) std::swap(a[p * n + k], a[c * n + k]);
      det = -det;
    }
    double piv = a[c * n + c];
    det *= piv;
    for (int64_t r = c + 1; r < n; ++r) {
      double f = a[r * n + c] / piv;
      for (int64_t k = c + 1; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
    }
  }
  return det;
}

void det(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int r = x.rank();
  int64_t n = x.shape()[r - 1];
  R1_CHECK(x.shape()[r - 2] == n, InputError) << "Det: matrices must be square, got " << x.describe();
  Tensor& y = ctx.output(0);
  int64_t count = y.numel();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, count, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n * n * n)),
                            [&](int64_t b, int64_t e) {
                              std::vector<double> a(static_cast<size_t>(n * n));
                              for (int64_t m = b; m < e; ++m) {
                                for (int64_t i = 0; i < n * n; ++i) a[i] = static_cast<float>(px[m * n * n + i]);
                                py[m] = static_cast<T>(static_cast<float>(determinant(a, n)));
                              }
                            });
  });
}

}  // namespace

void register_linalg_kernels(KernelTable& t) { t.add("Det", det); }
}  // namespace r1::cpu
