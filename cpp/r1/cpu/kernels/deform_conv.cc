// CPU kernel of DeformConv (2-D), as onnx's reference defines it: each tap (kh, kw) of output (i, j)
// samples X at (i * stride - pad + kh * dilation + dy, j * stride - pad + kw * dilation + dx) with
// bilinear interpolation (zero outside the image), times the mask; the samples form an im2col
// matrix that the weights multiply, group by group.
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

float bilinear(const float* img, int64_t H, int64_t W, float h, float w) {
  float fh = std::floor(h), fw = std::floor(w);
  auto h0 = static_cast<int64_t>(fh), w0 = static_cast<int64_t>(fw);
  float lh = h - fh, lw = w - fw;
  float v = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      int64_t y = h0 + dy, x = w0 + dx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      v += (dy ? lh : 1 - lh) * (dx ? lw : 1 - lw) * img[y * W + x];
    }
  return v;
}

void deform_conv(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Tensor& w_t = ctx.input(1);
  const Tensor& off_t = ctx.input(2);
  int64_t N = x_t.shape()[0], C = x_t.shape()[1], H = x_t.shape()[2], W = x_t.shape()[3];
  int64_t OC = w_t.shape()[0], CG = w_t.shape()[1], KH = w_t.shape()[2], KW = w_t.shape()[3];
  int64_t OH = off_t.shape()[2], OW = off_t.shape()[3];
  int64_t group = ctx.attrs().get_int("group", 1), og = ctx.attrs().get_int("offset_group", 1);
  std::vector<int64_t> st = ctx.attrs().get_ints("strides", {1, 1}), dil = ctx.attrs().get_ints("dilations", {1, 1});
  std::vector<int64_t> pads = ctx.attrs().get_ints("pads", {0, 0, 0, 0});
  R1_CHECK(group > 0 && C == CG * group && OC % group == 0, InputError)
      << "DeformConv: X " << x_t.describe() << " and W " << w_t.describe() << " do not fit group " << group;
  R1_CHECK(og > 0 && C % og == 0 && off_t.shape()[1] == og * 2 * KH * KW && off_t.shape()[0] == N, InputError)
      << "DeformConv: offset " << off_t.describe() << " does not fit offset_group " << og << " and a " << KH << "x"
      << KW << " kernel";
  int64_t eh = (KH - 1) * dil[0] + 1, ew = (KW - 1) * dil[1] + 1;
  R1_CHECK(OH == (H + pads[0] + pads[2] - eh) / st[0] + 1 && OW == (W + pads[1] + pads[3] - ew) / st[1] + 1, InputError)
      << "DeformConv: offset's spatial size " << OH << "x" << OW << " is not the convolution's output size";
  bool has_mask = ctx.has_input(4) && ctx.input(4).numel() > 0;
  std::vector<float> X = to_floats(x_t), Wt = to_floats(w_t), off = to_floats(off_t);
  std::vector<float> mask = has_mask ? to_floats(ctx.input(4)) : std::vector<float>();
  if (has_mask)
    R1_CHECK(static_cast<int64_t>(mask.size()) == N * og * KH * KW * OH * OW, InputError)
        << "DeformConv: mask " << ctx.input(4).describe() << " does not fit offset_group and kernel";
  std::vector<float> bias(static_cast<size_t>(OC), 0.0f);
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) bias = to_floats(ctx.input(3));
  int64_t P = OH * OW, KK = KH * KW, cpg = C / og, ocg = OC / group;
  std::vector<float> Y(static_cast<size_t>(N * OC * P));
  ctx.pool().parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
    std::vector<float> cols(static_cast<size_t>(C * KK * P));  // [(c, kh, kw), (i, j)]
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t c = 0; c < C; ++c) {
        int64_t g = c / cpg;
        const float* img = &X[(n * C + c) * H * W];
        for (int64_t k = 0; k < KK; ++k) {
          int64_t kh = k / KW, kw = k % KW;
          const float* dy = &off[((n * og + g) * KK * 2 + k * 2) * P];
          const float* dx = dy + P;
          const float* m = has_mask ? &mask[((n * og + g) * KK + k) * P] : nullptr;
          float* col = &cols[(c * KK + k) * P];
          for (int64_t p = 0; p < P; ++p) {
            int64_t i = p / OW, j = p % OW;
            float h = static_cast<float>(i * st[0] - pads[0] + kh * dil[0]) + dy[p];
            float w = static_cast<float>(j * st[1] - pads[1] + kw * dil[1]) + dx[p];
            col[p] = bilinear(img, H, W, h, w) * (m ? m[p] : 1.0f);
          }
        }
      }
      for (int64_t oc = 0; oc < OC; ++oc) {
        int64_t g = oc / ocg;
        float* y = &Y[(n * OC + oc) * P];
        for (int64_t p = 0; p < P; ++p) y[p] = bias[oc];
        for (int64_t r = 0; r < CG * KK; ++r) {
          float wv = Wt[oc * CG * KK + r];
          const float* col = &cols[(g * CG * KK + r) * P];
          for (int64_t p = 0; p < P; ++p) y[p] += wv * col[p];
        }
      }
    }
  });
  store_float(Y.data(), ctx.output(0), ctx.pool());
}

}  // namespace

void register_deform_conv_kernels(KernelTable& t) { t.add("DeformConv", deform_conv); }
}  // namespace r1::cpu
