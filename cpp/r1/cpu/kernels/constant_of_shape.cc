// CPU kernel of ConstantOfShape.
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void constant_of_shape(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const Tensor* v = ctx.attrs().get_tensor("value");
  if (y.numel() == 0) return;
  if (!v) {
    std::memset(y.raw(), 0, y.nbytes());
    return;
  }
  dispatch_size(esize(y), [&](auto tag) {
    using U = decltype(tag);
    U val;
    std::memcpy(&val, v->raw(), sizeof(U));
    U* p = static_cast<U*>(y.raw());
    ctx.pool().parallel_for(0, y.numel(), kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = val;
    });
  });
}

}  // namespace

void register_constant_of_shape_kernels(KernelTable& t) { t.add("ConstantOfShape", constant_of_shape); }
}  // namespace r1::cpu
