// CPU kernels of Concat and Split: row-chunk copies along the axis.
#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::cpu {
namespace {

using namespace shape_ops;

void concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  int r = y.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Concat axis");
  size_t es = esize(y);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= y.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= y.shape()[i];
  int64_t out_row = y.shape()[ax] * inner * es;
  if (y.numel() == 0) return;
  char* dst = static_cast<char*>(y.raw());
  // One task per (outer row, input) pair so that few big chunks still spread over the threads.
  std::vector<const char*> srcs;
  std::vector<int64_t> chunks, offs;
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) continue;
    const Tensor& x = ctx.input(k);
    int64_t chunk = x.shape()[ax] * inner * es;
    if (chunk == 0) continue;
    srcs.push_back(static_cast<const char*>(x.raw()));
    chunks.push_back(chunk);
    offs.push_back(off);
    off += chunk;
  }
  int64_t nin = static_cast<int64_t>(srcs.size());
  if (nin == 0) return;
  int64_t avg = std::max<int64_t>(1, out_row / nin);
  ctx.pool().parallel_for(0, outer * nin, std::max<int64_t>(1, (1 << 16) / avg), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nin, k = t % nin;
      std::memcpy(dst + o * out_row + offs[k], srcs[k] + o * chunks[k], chunks[k]);
    }
  });
}

void split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int r = x.rank();
  int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Split axis");
  size_t es = esize(x);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  int64_t in_row = x.shape()[ax] * inner * es;
  const char* src = static_cast<const char*>(x.raw());
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    Tensor& y = ctx.output(k);
    int64_t chunk = y.shape()[ax] * inner * es;
    if (chunk != 0 && outer != 0) {
      char* dst = static_cast<char*>(y.raw());
      ctx.pool().parallel_for(0, outer, std::max<int64_t>(1, (1 << 16) / chunk), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) std::memcpy(dst + o * chunk, src + o * in_row + off, chunk);
      });
    }
    off += chunk;
  }
}

}  // namespace

void register_concat_split_kernels(KernelTable& t) {
  t.add("Concat", concat);
  t.add("Split", split);
}
}  // namespace r1::cpu
