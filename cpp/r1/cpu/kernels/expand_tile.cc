// CPU kernels of Expand and Tile (strided copies with stride-0 dims: copy_util.h).
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int r = y.rank(), off = r - x.rank();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  std::vector<int64_t> st(r, 0);
  for (int i = 0; i < x.rank(); ++i) st[off + i] = (x.shape()[i] == 1) ? 0 : in_st[i];
  strided_copy(x.raw(), y.raw(), esize(x), y.shape(), st, ctx.pool());
}

void tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> rep = ctx.input(1).to_int64_vector();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape s;
  std::vector<int64_t> st;
  for (int i = 0; i < x.rank(); ++i) {
    s.push_back(rep[i]);
    st.push_back(0);
    s.push_back(x.shape()[i]);
    st.push_back(in_st[i]);
  }
  strided_copy(x.raw(), y.raw(), esize(x), s, st, ctx.pool());
}

}  // namespace

void register_expand_tile_kernels(KernelTable& t) {
  t.add("Expand", expand);
  t.add("Tile", tile);
}
}  // namespace r1::cpu
