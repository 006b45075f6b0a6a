// CPU kernels of ConvInteger and QLinearConv: a direct convolution of (x - x_zero_point) and
// (w - w_zero_point) in int32 (zero points per tensor, or per output channel for w), then for
// QLinearConv the bias and a requantization with x_scale * w_scale / y_scale (round half to even,
// saturating). Reference kernels: the VNNI paths are issue 14's.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {
namespace {

std::vector<int32_t> ints(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = t.dtype() == DType::Int8 ? t.data<int8_t>()[i] : static_cast<int32_t>(t.data<uint8_t>()[i]);
  return v;
}

// acc[n, m, out...] = sum over c (in m's group), kernel taps of (x - xz) * (w - wz[m]).
std::vector<int32_t> conv_int32(KernelContext& ctx, const Tensor& x_t, const Tensor& w_t, int32_t xz,
                                const std::vector<int32_t>& wz, Shape* out_shape) {
  const Shape& xs = x_t.shape();
  const Shape& ws = w_t.shape();
  int64_t N = xs[0], C = xs[1], M = ws[0], group = ctx.attrs().get_int("group", 1), CG = ws[1];
  R1_CHECK(C == CG * group && M % group == 0, InputError)
      << ctx.node().op_type << ": x " << x_t.describe() << " and w " << w_t.describe() << " do not fit group " << group;
  std::vector<int64_t> k(ws.begin() + 2, ws.end());
  conv_geom::Geom g = conv_geom::forward(ctx.attrs(), Shape(xs.begin() + 2, xs.end()), k, false);
  int nd = g.nd;
  R1_CHECK(nd >= 1 && nd <= 3, InputError) << ctx.node().op_type << ": 1 to 3 spatial dims, got " << nd;
  // Pad to 3 spatial dims (leading 1s) so one loop nest serves all.
  auto pad3 = [&](const std::vector<int64_t>& v, int64_t fill) {
    std::vector<int64_t> r(3, fill);
    for (int i = 0; i < nd; ++i) r[3 - nd + i] = v[i];
    return r;
  };
  std::vector<int64_t> in = pad3(g.in, 1), kk = pad3(g.k, 1), st = pad3(g.s, 1), dl = pad3(g.d, 1), pb = pad3(g.pb, 0),
                       out = pad3(g.out, 1);
  std::vector<int32_t> x = ints(x_t), w = ints(w_t);
  int64_t isz = in[0] * in[1] * in[2], osz = out[0] * out[1] * out[2], ksz = kk[0] * kk[1] * kk[2];
  std::vector<int32_t> acc(static_cast<size_t>(N * M * osz), 0);
  int64_t mg = M / group;
  ctx.pool().parallel_for(0, N * M, 1, [&](int64_t b0, int64_t e0) {
    for (int64_t nm = b0; nm < e0; ++nm) {
      int64_t n = nm / M, m = nm % M, gi = m / mg;
      int32_t wzm = wz.size() == 1 ? wz[0] : wz[m];
      for (int64_t o = 0; o < osz; ++o) {
        int64_t od = o / (out[1] * out[2]), oh = (o / out[2]) % out[1], ow = o % out[2];
        int32_t sum = 0;
        for (int64_t c = 0; c < CG; ++c) {
          const int32_t* xc = &x[(n * C + gi * CG + c) * isz];
          const int32_t* wc = &w[(m * CG + c) * ksz];
          for (int64_t t = 0; t < ksz; ++t) {
            int64_t kd = t / (kk[1] * kk[2]), kh = (t / kk[2]) % kk[1], kw = t % kk[2];
            int64_t id = od * st[0] - pb[0] + kd * dl[0], ih = oh * st[1] - pb[1] + kh * dl[1],
                    iw = ow * st[2] - pb[2] + kw * dl[2];
            if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2]) continue;
            sum += (xc[(id * in[1] + ih) * in[2] + iw] - xz) * (wc[t] - wzm);
          }
        }
        acc[nm * osz + o] = sum;
      }
    }
  });
  *out_shape = {N, M};
  out_shape->insert(out_shape->end(), g.out.begin(), g.out.end());
  return acc;
}

void conv_integer(KernelContext& ctx) {
  int32_t xz = ctx.has_input(2) && ctx.input(2).numel() ? ints(ctx.input(2))[0] : 0;
  std::vector<int32_t> wz = ctx.has_input(3) && ctx.input(3).numel() ? ints(ctx.input(3)) : std::vector<int32_t>{0};
  R1_CHECK(!ctx.has_input(2) || ctx.input(2).numel() <= 1, InputError) << "ConvInteger: x_zero_point must be a scalar";
  Shape os;
  std::vector<int32_t> acc = conv_int32(ctx, ctx.input(0), ctx.input(1), xz, wz, &os);
  Tensor& y = ctx.output(0);
  std::copy(acc.begin(), acc.end(), y.data<int32_t>());
}

void qlinear_conv(KernelContext& ctx) {
  std::vector<float> xs = to_floats(ctx.input(1)), ws = to_floats(ctx.input(4)), ys = to_floats(ctx.input(6));
  std::vector<int32_t> xz = ints(ctx.input(2)), wz = ints(ctx.input(5)), yz = ints(ctx.input(7));
  int64_t M = ctx.input(3).shape()[0];
  R1_CHECK(xs.size() == 1 && xz.size() == 1 && ys.size() == 1 && yz.size() == 1, InputError)
      << "QLinearConv: x and y scales / zero points must be scalars";
  R1_CHECK((ws.size() == 1 || static_cast<int64_t>(ws.size()) == M) &&
               (wz.size() == 1 || static_cast<int64_t>(wz.size()) == M),
           InputError)
      << "QLinearConv: w's scale / zero point must be scalars or hold one value per output channel (" << M << ")";
  Shape os;
  std::vector<int32_t> acc = conv_int32(ctx, ctx.input(0), ctx.input(3), xz[0], wz, &os);
  std::vector<int32_t> bias;
  if (ctx.has_input(8) && ctx.input(8).numel()) {
    const Tensor& b = ctx.input(8);
    R1_CHECK(b.numel() == M, InputError) << "QLinearConv: B needs " << M << " values";
    bias.assign(b.data<int32_t>(), b.data<int32_t>() + M);
  }
  Tensor& y = ctx.output(0);
  int64_t per = static_cast<int64_t>(acc.size()) / std::max<int64_t>(1, os[0] * M);
  auto requant = [&](auto* py, float lo, float hi) {
    for (size_t i = 0; i < acc.size(); ++i) {
      int64_t m = (static_cast<int64_t>(i) / per) % M;
      float scale = xs[0] * ws[ws.size() == 1 ? 0 : m] / ys[0];
      float v = std::nearbyint(static_cast<float>(acc[i] + (bias.empty() ? 0 : bias[m])) * scale) + yz[0];
      py[i] = static_cast<std::remove_pointer_t<decltype(py)>>(std::min(std::max(v, lo), hi));
    }
  };
  if (y.dtype() == DType::Int8)
    requant(y.data<int8_t>(), -128.0f, 127.0f);
  else
    requant(y.data<uint8_t>(), 0.0f, 255.0f);
}

}  // namespace

void register_conv_integer_kernels(KernelTable& t) {
  t.add("ConvInteger", conv_integer);
  t.add("QLinearConv", qlinear_conv);
}
}  // namespace r1::cpu
