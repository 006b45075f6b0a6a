// CPU kernel of NonZero (the output is sized by the kernel).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void nonzero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int r = x.rank();
  int64_t n = x.numel();
  std::vector<int64_t> pos;
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < n; ++i)
      if (static_cast<compute_t<T>>(p[i]) != compute_t<T>(0)) pos.push_back(i);
  });
  int64_t nnz = static_cast<int64_t>(pos.size());
  Tensor& y = ctx.allocate_output(0, {r, nnz}, DType::Int64);
  int64_t* o = y.data<int64_t>();
  for (int64_t t = 0; t < nnz; ++t) {
    int64_t rem = pos[t];
    for (int k = r - 1; k >= 0; --k) {
      o[k * nnz + t] = rem % x.shape()[k];
      rem /= x.shape()[k];
    }
  }
}

}  // namespace

void register_nonzero_kernels(KernelTable& t) { t.add("NonZero", nonzero); }
}  // namespace r1::cpu
