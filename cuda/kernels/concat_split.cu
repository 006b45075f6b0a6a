// Concat and Split on the GPU: 2-D block copies (rows of one input's chunk, copy_util.cuh), any dtype.
// Split's sizes are a host input.
#include <vector>

#include "copy_util.cuh"
#include "families.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1::gpu {
namespace {

using namespace shape_ops;

void concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int r = y.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Concat axis");
  const int64_t es = static_cast<int64_t>(esize(y));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= y.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= y.shape()[i];
  const int64_t out_row = y.shape()[ax] * inner * es;
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  char* dst = static_cast<char*>(y.raw());
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    if (!ctx.has_input(k)) continue;
    const Tensor& x = ctx.input(k);
    R1_CHECK(x.dtype() == y.dtype(), InputError)
        << "Concat: input " << k << " is " << dtype_name(x.dtype()) << ", expected " << dtype_name(y.dtype());
    const int64_t chunk = x.shape()[ax] * inner * es;
    R1_CHECK(off + chunk <= out_row && x.numel() * es == outer * chunk, InputError)
        << "Concat: input " << k << " of shape " << shape_str(x.shape()) << " does not fit output "
        << shape_str(y.shape());
    launch_copy2d(x.raw(), chunk, dst + off, out_row, outer, chunk, env.stream());
    off += chunk;
  }
}

void split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int r = x.rank();
  const int ax = normalize_axis(ctx.attrs().get_int("axis", 0), r, "Split axis");
  const int64_t es = static_cast<int64_t>(esize(x));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape()[i];
  const int64_t in_row = x.shape()[ax] * inner * es;
  const char* src = static_cast<const char*>(x.raw());
  KernelLaunch env(ctx);
  int64_t off = 0;
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    const Shape& os = ctx.output_shape(k);
    R1_CHECK(static_cast<int>(os.size()) == r, InternalError) << "Split: output " << k << " has the wrong rank";
    const int64_t chunk = os[ax] * inner * es;
    R1_CHECK(off + chunk <= in_row, InputError)
        << "Split: the outputs hold more than the input's axis " << x.shape()[ax];
    if (ctx.has_output(k)) {
      Tensor& y = ctx.output(k);
      launch_copy2d(src + off, in_row, y.raw(), chunk, outer, chunk, env.stream());
    }
    off += chunk;
  }
}

}  // namespace

void register_concat_split_kernels(KernelTable& t) {
  constexpr uint32_t kIn1 = 1u << 1;
  t.add("Concat", concat, "", 0, supports_any_dtype);
  t.add("Split", split, "", kIn1, supports_any_dtype);
}
}  // namespace r1::gpu
