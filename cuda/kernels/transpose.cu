// Transpose on the GPU: one strided gather (copy_util.cuh), any dtype.
#include <vector>

#include "copy_util.cuh"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

void transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> perm = transpose_perm(ctx.attrs(), x.rank());
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape out(perm.size());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out[i] = x.shape()[perm[i]];
    st[i] = in_st[perm[i]];
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), out, st, env.stream(), "Transpose");
}

}  // namespace

void register_transpose_kernels(KernelTable& t) { t.add("Transpose", transpose, "", 0, supports_any_dtype); }
}  // namespace r1::gpu
