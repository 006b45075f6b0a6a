// Pad on the GPU (modes constant, reflect, edge, wrap), byte-generic: one thread per output element
// maps each dim to its source index (the CPU kernel's pad_source). Host inputs (shapes, starts, pads, repeats, k) are
// read on the CPU; the plans come from the same shape_ops functions as the CPU kernels and shape inference.
#include <cstring>
#include <string>
#include <vector>

#include "copy_util.cuh"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

constexpr int kMaxPadRank = 8;
struct PadPlan {
  int rank = 0;
  int mode = 0;  // 0 constant, 1 reflect, 2 edge, 3 wrap
  int64_t out[kMaxPadRank] = {};
  int64_t in[kMaxPadRank] = {};
  int64_t begin[kMaxPadRank] = {};
  int64_t in_st[kMaxPadRank] = {};
};

// Source index along a dim of length n for padded position p (already shifted by -begin); -1 for
// the constant. The same mapping as the CPU kernel's pad_source.
__device__ inline int64_t pad_source(int64_t p, int64_t n, int mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 0:
      return -1;
    case 1: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t q = ((p % period) + period) % period;
      return q < n ? q : period - q;
    }
    case 2:
      return p < 0 ? 0 : n - 1;
    default:
      return ((p % n) + n) % n;
  }
}

template <class U>
__global__ void pad_kernel(const U* src, U* dst, int64_t n, PadPlan p, U padv) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
    bool fill = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t q = rest / p.out[d];
      const int64_t m = pad_source(rest - q * p.out[d] - p.begin[d], p.in[d], p.mode);
      rest = q;
      if (m < 0)
        fill = true;
      else
        off += m * p.in_st[d];
    }
    dst[i] = fill ? padv : src[off];
  }
}

void pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int r = x.rank();
  const std::string mode_s = ctx.attrs().get_string("mode", "constant");
  const int mode = mode_s == "constant"  ? 0
                   : mode_s == "reflect" ? 1
                   : mode_s == "edge"    ? 2
                   : mode_s == "wrap"    ? 3
                                         : -1;
  R1_CHECK(mode >= 0, ModelError) << "Pad: unknown mode '" << mode_s << "'";
  std::vector<int64_t> pads, axes;
  if (ctx.opset() < 11) {
    pads = ctx.attrs().get_ints("pads");
  } else {  // host inputs
    pads = ctx.input(1).to_int64_vector();
    if (ctx.has_input(3)) axes = ctx.input(3).to_int64_vector();
  }
  std::vector<int64_t> pb, pe;
  pad_plan(r, pads, axes, &pb, &pe);
  if (y.numel() == 0) return;
  const size_t es = esize(x);
  KernelLaunch env(ctx);
  if (r == 0) {
    R1_GPU_CHECK(gpuMemcpyAsync(y.raw(), x.raw(), es, gpuMemcpyDefault, env.stream()));
    return;
  }
  R1_CHECK(r <= kMaxPadRank, InputError) << "Pad on " R1_GPU_BACKEND_NAME " supports rank <= " << kMaxPadRank
                                         << ", got " << r;
  R1_CHECK(mode == 0 || x.numel() > 0, InputError) << "Pad: mode '" << mode_s << "' needs a non-empty input";
  // The pad value's bytes in the data dtype.
  uint64_t padbits = 0;
  if (ctx.opset() < 11) {
    const float v = ctx.attrs().get_float("value", 0.0f);
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T tv = convert<T>(v);
      std::memcpy(&padbits, &tv, sizeof(T));
    });
  } else if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    const Tensor& cv = ctx.input(2);
    R1_CHECK(cv.dtype() == x.dtype(), InputError) << "Pad: constant_value must match the data dtype";
    std::memcpy(&padbits, cv.raw(), es);
  }
  PadPlan p;
  p.rank = r;
  p.mode = mode;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  for (int d = 0; d < r; ++d) {
    p.out[d] = y.shape()[d];
    p.in[d] = x.shape()[d];
    p.begin[d] = pb[d];
    p.in_st[d] = in_st[d];
    R1_CHECK(y.shape()[d] == x.shape()[d] + pb[d] + pe[d], InternalError) << "Pad: output shape mismatch";
  }
  const int64_t n = y.numel();
  dispatch_bytes(es, [&](auto tag) {
    using U = decltype(tag);
    U padv;
    std::memcpy(&padv, &padbits, sizeof(U));
    pad_kernel<U><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()),
                                                                static_cast<U*>(y.raw()), n, p, padv);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_pad_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1, kIn2 = 1u << 2, kIn3 = 1u << 3;
  t.add("Pad", pad, "", kIn1 | kIn2 | kIn3, supports_any_dtype);
}
}  // namespace r1::gpu
