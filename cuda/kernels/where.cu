// Where on the GPU: numpy broadcasting over condition, X and Y; byte-generic (any dtype).
#include "copy_util.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

struct Walk3 {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t s[3][kMaxRank] = {};  // strides of cond, X, Y along each (merged) output dim
};

Walk3 make_walk3(const Shape* in[3], const Shape& out) {
  const int r = static_cast<int>(out.size());
  std::vector<int64_t> s[3];
  for (int k = 0; k < 3; ++k) {
    s[k].assign(r, 0);
    int64_t stride = 1;
    const Shape& is = *in[k];
    R1_CHECK(static_cast<int>(is.size()) <= r, InputError) << "Where: input rank exceeds the output's";
    for (int d = static_cast<int>(is.size()) - 1, o = r - 1; d >= 0; --d, --o) {
      R1_CHECK(is[d] == out[o] || is[d] == 1, InputError)
          << "Where: shape " << shape_str(is) << " does not broadcast to " << shape_str(out);
      s[k][o] = is[d] == 1 && out[o] != 1 ? 0 : stride;
      stride *= is[d];
    }
  }
  Walk3 w;
  for (int o = 0; o < r; ++o) {
    if (out[o] == 1) continue;
    if (w.rank > 0) {
      const int p = w.rank - 1;
      bool merge = true;
      for (int k = 0; k < 3; ++k) merge = merge && w.s[k][p] == s[k][o] * out[o];
      if (merge) {
        w.dims[p] *= out[o];
        for (int k = 0; k < 3; ++k) w.s[k][p] = s[k][o];
        continue;
      }
    }
    R1_CHECK(w.rank < kMaxRank, InputError) << "Where: broadcast over more than " << kMaxRank << " non-mergeable dims";
    w.dims[w.rank] = out[o];
    for (int k = 0; k < 3; ++k) w.s[k][w.rank] = s[k][o];
    ++w.rank;
  }
  return w;
}

template <class U, bool kBroadcast>
__global__ void where_kernel(const uint8_t* c, const U* a, const U* b, U* y, int64_t n, Walk3 w) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ic = i, ia = i, ib = i;
    if (kBroadcast) {
      ic = ia = ib = 0;
      int64_t rest = i;
      for (int d = w.rank - 1; d >= 0; --d) {
        const int64_t q = rest / w.dims[d];
        const int64_t k = rest - q * w.dims[d];
        rest = q;
        ic += k * w.s[0][d];
        ia += k * w.s[1][d];
        ib += k * w.s[2][d];
      }
    }
    y[i] = c[ic] != 0 ? a[ia] : b[ib];
  }
}

void where(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& a = ctx.input(1);
  const Tensor& b = ctx.input(2);
  Tensor& y = ctx.output(0);
  R1_CHECK(c.dtype() == DType::Bool, InputError) << "Where: condition must be bool, got " << dtype_name(c.dtype());
  R1_CHECK(a.dtype() == b.dtype() && a.dtype() == y.dtype(), InputError)
      << "Where: X and Y have different dtypes: " << dtype_name(a.dtype()) << " and " << dtype_name(b.dtype());
  const int64_t n = y.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  const bool flat = c.shape() == y.shape() && a.shape() == y.shape() && b.shape() == y.shape();
  Walk3 w;
  if (!flat) {
    const Shape* in[3] = {&c.shape(), &a.shape(), &b.shape()};
    w = make_walk3(in, y.shape());
  }
  dispatch_bytes(esize(y), [&](auto tag) {
    using U = decltype(tag);
    const uint8_t* pc = static_cast<const uint8_t*>(c.raw());
    const U* pa = static_cast<const U*>(a.raw());
    const U* pb = static_cast<const U*>(b.raw());
    U* py = static_cast<U*>(y.raw());
    if (flat)
      where_kernel<U, false><<<blocks_for(n), kThreads, 0, env.stream()>>>(pc, pa, pb, py, n, w);
    else
      where_kernel<U, true><<<blocks_for(n), kThreads, 0, env.stream()>>>(pc, pa, pb, py, n, w);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_where_kernels(KernelTable& t) { t.add("Where", where, "", 0, supports_any_dtype); }
}  // namespace r1::gpu
