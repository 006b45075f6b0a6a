// CPU kernel of Pad (modes constant, reflect, edge, wrap).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::cpu {
namespace {

using namespace shape_ops;

// Source index along a dim of length n for padded position p (p already shifted by -pad_begin).
int64_t pad_source(int64_t p, int64_t n, int mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 0:
      return -1;  // constant
    case 1: {     // reflect
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t q = ((p % period) + period) % period;
      return q < n ? q : period - q;
    }
    case 2:
      return p < 0 ? 0 : n - 1;  // edge
    default:
      return ((p % n) + n) % n;  // wrap
  }
}

void pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = x.rank();
  std::string mode_s = ctx.attrs().get_string("mode", "constant");
  int mode = mode_s == "constant" ? 0 : mode_s == "reflect" ? 1 : mode_s == "edge" ? 2 : 3;
  std::vector<int64_t> pads, axes;
  if (ctx.opset() < 11) {
    pads = ctx.attrs().get_ints("pads");
  } else {
    pads = ctx.input(1).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
  }
  std::vector<int64_t> pb, pe;
  pad_plan(r, pads, axes, &pb, &pe);
  if (y.numel() == 0) return;
  if (r == 0) {
    std::memcpy(y.raw(), x.raw(), esize(x));
    return;
  }
  std::vector<std::vector<int64_t>> maps(r);
  for (int d = 0; d < r; ++d) {
    int64_t n = x.shape()[d];
    maps[d].resize(y.shape()[d]);
    for (int64_t p = 0; p < y.shape()[d]; ++p) maps[d][p] = pad_source(p - pb[d], n, mode);
  }
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T padv = convert<T>(0.0f);
    if (ctx.opset() < 11) {
      padv = convert<T>(ctx.attrs().get_float("value", 0.0f));
    } else if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
      R1_CHECK(ctx.input(2).dtype() == x.dtype(), InputError) << "Pad: constant_value must match the data dtype";
      padv = ctx.input(2).data<T>()[0];
    }
    const T* s = x.data<T>();
    T* o = y.data<T>();
    int64_t row = y.shape()[r - 1];
    int64_t rows = y.numel() / row;
    const std::vector<int64_t>& last = maps[r - 1];
    ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / row), [&](int64_t b, int64_t e) {
      for (int64_t rr = b; rr < e; ++rr) {
        int64_t rem = rr, off = 0;
        bool fill = false;
        for (int k = r - 2; k >= 0; --k) {
          int64_t m = maps[k][rem % y.shape()[k]];
          rem /= y.shape()[k];
          if (m < 0) fill = true;
          off += m * in_st[k];
        }
        T* orow = o + rr * row;
        if (fill) {
          for (int64_t j = 0; j < row; ++j) orow[j] = padv;
          continue;
        }
        const T* srow = s + off;
        for (int64_t j = 0; j < row; ++j) {
          int64_t m = last[j];
          orow[j] = m < 0 ? padv : srow[m];
        }
      }
    });
  });
}

}  // namespace

void register_pad_kernels(KernelTable& t) { t.add("Pad", pad); }
}  // namespace r1::cpu
