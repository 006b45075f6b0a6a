// CPU kernel of Transpose (a permuted strided copy: copy_util.h).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::cpu {
namespace {

using namespace shape_ops;

void transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> perm = transpose_perm(ctx.attrs(), x.rank());
  permute_copy(x.raw(), y.raw(), esize(x), x.shape(), perm, ctx.pool());
}

}  // namespace

void register_transpose_kernels(KernelTable& t) { t.add("Transpose", transpose); }
}  // namespace r1::cpu
