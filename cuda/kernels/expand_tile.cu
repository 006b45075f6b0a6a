// Expand and Tile on the GPU: one strided gather each (stride-0 dims, copy_util.cuh), any dtype; the
// shape and the repeats are host inputs.
#include <vector>

#include "copy_util.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int r = y.rank(), off = r - x.rank();
  R1_CHECK(off >= 0, InputError) << "Expand: input rank " << x.rank() << " exceeds output rank " << r;
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  std::vector<int64_t> st(r, 0);
  for (int i = 0; i < x.rank(); ++i) {
    R1_CHECK(x.shape()[i] == 1 || x.shape()[i] == y.shape()[off + i], InputError)
        << "Expand: input " << shape_str(x.shape()) << " does not broadcast to " << shape_str(y.shape());
    st[off + i] = (x.shape()[i] == 1) ? 0 : in_st[i];
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), y.shape(), st, env.stream(), "Expand");
}

void tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> rep = ctx.input(1).to_int64_vector();  // host input
  R1_CHECK(static_cast<int>(rep.size()) == x.rank(), InputError)
      << "Tile: repeats has " << rep.size() << " entries for an input of rank " << x.rank();
  std::vector<int64_t> in_st = contiguous_strides(x.shape());
  Shape s;
  std::vector<int64_t> st;
  for (int i = 0; i < x.rank(); ++i) {
    R1_CHECK(rep[i] >= 0 && rep[i] * x.shape()[i] == y.shape()[i], InputError)
        << "Tile: repeats " << rep[i] << " on dim " << i << " do not give output " << shape_str(y.shape());
    s.push_back(rep[i]);
    st.push_back(0);
    s.push_back(x.shape()[i]);
    st.push_back(in_st[i]);
  }
  KernelLaunch env(ctx);
  launch_strided(x.raw(), y.raw(), esize(x), s, st, env.stream(), "Tile");
}

}  // namespace

void register_expand_tile_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1;
  t.add("Expand", expand, "", kIn1, supports_any_dtype);
  t.add("Tile", tile, "", kIn1, supports_any_dtype);
}
}  // namespace r1::gpu
