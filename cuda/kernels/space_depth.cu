// DepthToSpace and SpaceToDepth on the GPU: a 6-D permutation, byte-generic (any dtype).
// CPU reference: cpp/r1/cpu/kernels/space_depth.cc.
#include <string>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// y = transpose(x viewed as 6-D `in`, perm), then viewed as 4-D.
struct Perm6 {
  int64_t dims[6] = {};  // output dims
  int64_t st[6] = {};    // source element stride per output dim
};

template <class U>
__global__ void permute6(const U* x, U* y, int64_t n, Perm6 p) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
#pragma unroll
    for (int d = 5; d >= 0; --d) {
      const int64_t q = rest / p.dims[d];
      off += (rest - q * p.dims[d]) * p.st[d];
      rest = q;
    }
    y[i] = x[off];
  }
}

void launch_permute6(KernelContext& ctx, const Tensor& x, Tensor& y, const int64_t (&in)[6], const int (&perm)[6]) {
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  R1_CHECK(n == x.numel() && n == y.numel(), InternalError)
      << ctx.node().op_type << ": element counts of input and output differ";
  if (n == 0) return;
  int64_t st[6];
  st[5] = 1;
  for (int d = 4; d >= 0; --d) st[d] = st[d + 1] * in[d + 1];
  Perm6 p;
  for (int d = 0; d < 6; ++d) {
    p.dims[d] = in[perm[d]];
    p.st[d] = st[perm[d]];
  }
  KernelLaunch env(ctx);
  dispatch_bytes(dtype_size(x.dtype()), [&](auto tag) {
    using U = decltype(tag);
    permute6<U>
        <<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const U*>(x.raw()), static_cast<U*>(y.raw()), n, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

// Reads blocksize and mode, checking them as shape inference does.
void block_attrs(const KernelContext& ctx, const Tensor& x, int64_t* b, bool* crd) {
  const char* op = ctx.node().op_type.c_str();
  R1_CHECK(x.rank() == 4, InputError) << op << ": input must be 4-D, got " << shape_str(x.shape());
  *b = ctx.attrs().get_int("blocksize", 0);
  R1_CHECK(*b > 0, ModelError) << op << ": blocksize must be positive";
  const std::string mode = ctx.attrs().get_string("mode", "DCR");
  R1_CHECK(mode == "DCR" || mode == "CRD", ModelError) << op << ": mode '" << mode << "' is not supported";
  *crd = mode == "CRD";
}

void depth_to_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t b;
  bool crd;
  block_attrs(ctx, x, &b, &crd);
  const Shape& s = x.shape();
  R1_CHECK(s[1] % (b * b) == 0, InputError) << "DepthToSpace: channels " << s[1] << " not divisible by " << b * b;
  Tensor& y = ctx.output(0);
  const int64_t n = s[0], c = s[1] / (b * b), h = s[2], w = s[3];
  if (crd) {
    const int64_t in[6] = {n, c, b, b, h, w};
    const int perm[6] = {0, 1, 4, 2, 5, 3};
    launch_permute6(ctx, x, y, in, perm);
  } else {
    const int64_t in[6] = {n, b, b, c, h, w};
    const int perm[6] = {0, 3, 4, 1, 5, 2};
    launch_permute6(ctx, x, y, in, perm);
  }
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t b;
  bool crd;
  block_attrs(ctx, x, &b, &crd);
  const Shape& s = x.shape();
  for (int i = 2; i < 4; ++i)
    R1_CHECK(s[i] % b == 0, InputError) << "SpaceToDepth: dim " << i << " (" << s[i] << ") not divisible by " << b;
  Tensor& y = ctx.output(0);
  const int64_t in[6] = {s[0], s[1], s[2] / b, b, s[3] / b, b};
  if (crd) {
    const int perm[6] = {0, 1, 3, 5, 2, 4};
    launch_permute6(ctx, x, y, in, perm);
  } else {
    const int perm[6] = {0, 3, 5, 1, 2, 4};
    launch_permute6(ctx, x, y, in, perm);
  }
}

}  // namespace

void register_space_depth_kernels(KernelTable& t) {
  t.add("DepthToSpace", depth_to_space, "", 0, supports_any_dtype);
  t.add("SpaceToDepth", space_to_depth, "", 0, supports_any_dtype);
}
}  // namespace r1::gpu
