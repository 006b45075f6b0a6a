// CPU kernels of the elementwise family.
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void relu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    ctx.pool().parallel_for(0, x.numel(), kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        compute_t<T> v = static_cast<compute_t<T>>(px[i]);
        py[i] = convert<T>(v > 0 ? v : compute_t<T>(0));
      }
    });
  });
}

void add(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  BroadcastMap m(y.shape(), {a.shape(), b.shape()});
  dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    int64_t n = m.row_len(), sa = m.steps()[0], sb = m.steps()[1];
    ctx.pool().parallel_for(0, m.rows(), std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(n, 1)),
                            [&](int64_t r0, int64_t r1) {
      int64_t offs[2];
      for (int64_t r = r0; r < r1; ++r) {
        m.row_offsets(r, offs);
        const T* x = pa + offs[0];
        const T* z = pb + offs[1];
        T* o = py + r * n;
        for (int64_t i = 0; i < n; ++i)
          o[i] = convert<T>(static_cast<compute_t<T>>(x[i * sa]) + static_cast<compute_t<T>>(z[i * sb]));
      }
    });
  });
}

}  // namespace

void register_elementwise_kernels(KernelTable& t) {
  t.add("Relu", relu);
  t.add("Add", add);
}
}  // namespace r1::cpu
