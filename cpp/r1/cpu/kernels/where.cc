// CPU kernel of Where (numpy broadcasting over condition, X and Y; any dtype, on raw element bits).
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cstring>

#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// Branch-free select on raw bits (vectorizes, unlike a conditional load).
template <class E>
inline E select(bool c, E a, E b) {
  const E m = static_cast<E>(E(0) - static_cast<E>(c));
  return static_cast<E>((a & m) | (b & static_cast<E>(~m)));
}

// Where on raw element bits: one instantiation per element size.
template <class E>
void where_bits(ThreadPool& pool, const Tensor& c, const Tensor& x, const Tensor& z, Tensor& y) {
  const int64_t n = y.numel();
  const bool* pc = c.data<bool>();
  const E* px = static_cast<const E*>(x.raw());
  const E* pz = static_cast<const E*>(z.raw());
  E* py = static_cast<E*>(y.raw());
  if (c.numel() == n && x.numel() == n && z.numel() == n) {
    pool.parallel_for(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) py[i] = select(pc[i], px[i], pz[i]);
    });
    return;
  }
  Shape oc;
  std::vector<Shape> ic;
  ew::coalesce_broadcast(y.shape(), {c.shape(), x.shape(), z.shape()}, &oc, &ic);
  BroadcastMap m(oc, ic);
  const int64_t len = m.row_len();
  const int64_t sc = m.steps()[0], sx = m.steps()[1], sz = m.steps()[2];
  pool.parallel_for(0, m.rows(), ew::row_grain(len), [&](int64_t r0, int64_t r1) {
    int64_t offs[3];
    for (int64_t r = r0; r < r1; ++r) {
      m.row_offsets(r, offs);
      const bool* cr = pc + offs[0];
      const E* xr = px + offs[1];
      const E* zr = pz + offs[2];
      E* o = py + r * len;
      if (sc && sx && sz) {
        for (int64_t i = 0; i < len; ++i) o[i] = select(cr[i], xr[i], zr[i]);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i] = cr[i * sc] ? xr[i * sx] : zr[i * sz];
      }
    }
  });
}

void where(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& z = ctx.input(2);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  switch (dtype_size(y.dtype())) {
    case 1:
      where_bits<uint8_t>(ctx.pool(), c, x, z, y);
      break;
    case 2:
      where_bits<uint16_t>(ctx.pool(), c, x, z, y);
      break;
    case 4:
      where_bits<uint32_t>(ctx.pool(), c, x, z, y);
      break;
    case 8:
      where_bits<uint64_t>(ctx.pool(), c, x, z, y);
      break;
    default:
      R1_THROW(InternalError) << "Where: unexpected element size";
  }
}

}  // namespace

void register_where_kernels(KernelTable& t) { t.add("Where", where); }
}  // namespace r1::cpu
