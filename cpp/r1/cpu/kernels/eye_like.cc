// CPU kernel of EyeLike.
#include <cstring>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

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

void register_eye_like_kernels(KernelTable& t) { t.add("EyeLike", eye_like); }
}  // namespace r1::cpu
