// CPU kernels of Cast, CastLike and BitCast.
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cmath>
#include <cstring>
#include <limits>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// One element of S converted to D as numpy's astype does for in-range values: floats truncate
// toward zero into integers (NaN -> 0, out of range saturates), anything -> bool is "!= 0",
// integers narrow by wrapping.
template <class D, class S>
inline ew::raw_t<D> cast_value(ew::raw_t<S> s) {
  const auto v = ew::load_r<S>(s);  // float for the 16-bit floats
  using V = decltype(v);
  if constexpr (std::is_same_v<D, bool>) {
    return v != V(0);
  } else if constexpr (std::is_integral_v<D> && !std::is_integral_v<V>) {
    // Branch-free saturation: clamp below the float nearest to max (which may round above it),
    // then select max / 0 for the out-of-range and NaN inputs.
    const float f = static_cast<float>(v);
    const float lo = static_cast<float>(std::numeric_limits<D>::lowest());
    const float hi = static_cast<float>(std::numeric_limits<D>::max());
    const float below_hi = ew::bitsf(ew::fbits(hi) - 1u);
    float c = ew::vmin(ew::vmax(f, lo), below_hi);
    c = ew::isnan_q(f) ? 0.0f : c;
    D r = static_cast<D>(c);
    r = ew::lt(f, hi) ? r : std::numeric_limits<D>::max();
    return ew::isnan_q(f) ? D(0) : r;
  } else if constexpr (std::is_same_v<D, half> || std::is_same_v<D, bfloat16>) {
    return ew::store_r<D>(static_cast<float>(v));
  } else {
    return static_cast<D>(v);
  }
}

template <class S>
void cast_from(const S* src, DType to, void* dst, int64_t n, ThreadPool& pool) {
  dispatch_all(to, [&](auto tag) {
    using D = decltype(tag);
    ew::raw_t<D>* out = static_cast<ew::raw_t<D>*>(dst);
    const ew::raw_t<S>* in = ew::raw_ptr(src);
    pool.parallel_for(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = cast_value<D, S>(in[i]);
    });
  });
}

void cast_into(const Tensor& x, Tensor& y, ThreadPool& pool) {
  if (x.numel() == 0) return;
  if (x.dtype() == y.dtype()) {
    std::memcpy(y.raw(), x.raw(), x.nbytes());
    return;
  }
  dispatch_all(x.dtype(), [&](auto tag) {
    using S = decltype(tag);
    cast_from(x.data<S>(), y.dtype(), y.raw(), x.numel(), pool);
  });
}

void cast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  DType to = ctx.node().op_type == "CastLike" ? ctx.input(1).dtype() : static_cast<DType>(ctx.attrs().get_int("to", 0));
  if (to == x.dtype()) {
    ctx.set_output(0, x);  // no conversion: a view of the input
    return;
  }
  cast_into(x, ctx.output(0), ctx.pool());
}

// The same bytes under another type of the same width (a copy: the memory plan knows only the view
// ops of views.cc as aliasing their input).
void bitcast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  R1_CHECK(y.nbytes() == x.nbytes(), InputError) << "BitCast: " << x.describe() << " to " << y.describe();
  if (x.nbytes()) std::memcpy(y.raw(), x.raw(), x.nbytes());
}

}  // namespace

Tensor cast_tensor(const Tensor& x, DType to, ThreadPool& pool) {
  Tensor y = Tensor::empty(to, x.shape());
  cast_into(x, y, pool);
  return y;
}

void register_cast_kernels(KernelTable& t) {
  t.add("Cast", cast);
  t.add("CastLike", cast);
  t.add("BitCast", bitcast);
}

}  // namespace r1::cpu
