// CPU kernel of Trilu.
#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

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

}  // namespace

void register_trilu_kernels(KernelTable& t) { t.add("Trilu", trilu); }
}  // namespace r1::cpu
