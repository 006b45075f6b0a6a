// CPU kernels of DepthToSpace and SpaceToDepth: a 6-D permutation (copy_util.h).
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void depth_to_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t b = ctx.attrs().get_int("blocksize", 0);
  bool crd = ctx.attrs().get_string("mode", "DCR") == "CRD";
  const Shape& s = x.shape();
  int64_t n = s[0], c = s[1] / (b * b), h = s[2], w = s[3];
  if (crd) {
    permute_copy(x.raw(), y.raw(), esize(x), {n, c, b, b, h, w}, {0, 1, 4, 2, 5, 3}, ctx.pool());
  } else {
    permute_copy(x.raw(), y.raw(), esize(x), {n, b, b, c, h, w}, {0, 3, 4, 1, 5, 2}, ctx.pool());
  }
}

void space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t b = ctx.attrs().get_int("blocksize", 0);
  const Shape& s = x.shape();
  bool crd = ctx.attrs().get_string("mode", "DCR") == "CRD";
  permute_copy(x.raw(), y.raw(), esize(x), {s[0], s[1], s[2] / b, b, s[3] / b, b},
               crd ? std::vector<int64_t>{0, 1, 3, 5, 2, 4} : std::vector<int64_t>{0, 3, 5, 1, 2, 4}, ctx.pool());
}

}  // namespace

void register_space_depth_kernels(KernelTable& t) {
  t.add("DepthToSpace", depth_to_space);
  t.add("SpaceToDepth", space_to_depth);
}
}  // namespace r1::cpu
