// CPU kernels of CenterCropPad, Col2Im, MaxUnpool and LRN (GridSample and AffineGrid: grid_sample.cc).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/grid_sample.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// Steps a multi-index through `shape` (last dim fastest); false after the last position.
bool next_index(std::vector<int64_t>& idx, const Shape& shape) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

int64_t offset_of(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t o = 0;
  for (size_t d = 0; d < shape.size(); ++d) o = o * shape[d] + idx[d];
  return o;
}

// Each listed axis is cropped or zero-padded to its new size, centred (the extra element of an odd
// difference goes to the end).
void center_crop_pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Shape& is = x.shape();
  const Shape& os = y.shape();
  int r = x.rank();
  std::vector<int64_t> crop(r, 0), pad(r, 0), common(is.begin(), is.end());
  for (int d = 0; d < r; ++d) {
    if (os[d] < is[d]) crop[d] = (is[d] - os[d]) / 2;
    if (os[d] > is[d]) pad[d] = (os[d] - is[d]) / 2;
    common[d] = std::min(is[d], os[d]);
  }
  size_t es = dtype_size(x.dtype());
  if (y.nbytes()) std::memset(y.raw(), 0, y.nbytes());
  if (y.numel() == 0 || x.numel() == 0) return;
  Shape cs(common.begin(), common.end());
  std::vector<int64_t> idx(r, 0), in(r), out(r);
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
  do {
    for (int d = 0; d < r; ++d) {
      in[d] = idx[d] + crop[d];
      out[d] = idx[d] + pad[d];
    }
    std::memcpy(dst + offset_of(out, os) * es, src + offset_of(in, is) * es, es);
  } while (next_index(idx, cs));
}

// Sums the columns of im2col back into the image: input [N, C * prod(block), L] -> [N, C, image...].
void col2im(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> image = ctx.input(1).to_int64_vector(), block = ctx.input(2).to_int64_vector();
  size_t nd = image.size();
  R1_CHECK(block.size() == nd, InputError) << "Col2Im: image_shape and block_shape differ in length";
  std::vector<int64_t> dil = ctx.attrs().get_ints("dilations", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> str = ctx.attrs().get_ints("strides", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  int64_t N = x.shape()[0], K = 1, L = 1;
  Shape blocks(nd), bs(block.begin(), block.end());
  for (size_t d = 0; d < nd; ++d) {
    K *= block[d];
    blocks[d] = (image[d] + pads[d] + pads[d + nd] - dil[d] * (block[d] - 1) - 1) / str[d] + 1;
    R1_CHECK(blocks[d] >= 1, InputError) << "Col2Im: no sliding block fits dim " << d;
    L *= blocks[d];
  }
  R1_CHECK(x.shape()[1] % K == 0 && x.shape()[2] == L, InputError)
      << "Col2Im: input " << x.describe() << " does not hold " << K << "-element blocks at " << L << " positions";
  int64_t C = x.shape()[1] / K, P = 1;
  for (int64_t v : image) P *= v;
  Shape os = {N, C};
  os.insert(os.end(), image.begin(), image.end());
  Tensor& y = ctx.allocate_output(0, os, x.dtype());
  FloatIn xin = float_input(x, ctx.pool());
  std::vector<float> acc(static_cast<size_t>(N * C * P), 0.0f);
  Shape is(image.begin(), image.end());
  std::vector<int64_t> k(nd, 0), l(nd, 0), p(nd);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      std::fill(k.begin(), k.end(), 0);
      for (int64_t ki = 0; ki < K; ++ki, next_index(k, bs)) {
        std::fill(l.begin(), l.end(), 0);
        const float* row = xin.p + ((n * C + c) * K + ki) * L;
        for (int64_t li = 0; li < L; ++li, next_index(l, blocks)) {
          bool inside = true;
          for (size_t d = 0; d < nd; ++d) {
            p[d] = l[d] * str[d] - pads[d] + k[d] * dil[d];
            inside = inside && p[d] >= 0 && p[d] < image[d];
          }
          if (inside) acc[(n * C + c) * P + offset_of(p, is)] += row[li];
        }
      }
    }
  store_float(acc.data(), y, ctx.pool());
}

// Scatters each pooled value to the flat position MaxPool's Indices output recorded. Indices address
// the unpooled shape the attributes give; a larger output_shape places those positions at the same
// coordinates (zeros after them), as the ONNX test of output_shape expects.
void max_unpool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> idx = ctx.input(1).to_int64_vector();
  R1_CHECK(static_cast<int64_t>(idx.size()) == x.numel(), InputError)
      << "MaxUnpool: I holds " << idx.size() << " indices for " << x.numel() << " values";
  Tensor& y = ctx.output(0);
  const Shape& xs = x.shape();
  const Shape& os = y.shape();
  size_t nd = xs.size() - 2;
  std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  std::vector<int64_t> st = ctx.attrs().get_ints("strides", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  Shape base = {xs[0], xs[1]};
  for (size_t d = 0; d < nd; ++d) {
    base.push_back((xs[d + 2] - 1) * st[d] + k[d] - pads[d] - pads[d + nd]);
    R1_CHECK(os[d + 2] >= base.back(), InputError)
        << "MaxUnpool: output_shape " << shape_str(os) << " is smaller than the unpooled shape " << shape_str(base);
  }
  std::vector<float> v = to_floats(x), out(static_cast<size_t>(y.numel()), 0.0f);
  int64_t base_n = numel(base);
  std::vector<int64_t> at(base.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    R1_CHECK(idx[i] >= 0 && idx[i] < base_n, InputError)
        << "MaxUnpool: index " << idx[i] << " out of range for the unpooled shape " << shape_str(base);
    int64_t rem = idx[i];
    for (size_t d = base.size(); d-- > 0;) {
      at[d] = rem % base[d];
      rem /= base[d];
    }
    out[offset_of(at, os)] = v[i];
  }
  store_float(out.data(), y, ctx.pool());
}

// y = x / (bias + alpha / size * sum of x^2 over the channel window) ^ beta.
void lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  float alpha = ctx.attrs().get_float("alpha", 1e-4f), beta = ctx.attrs().get_float("beta", 0.75f);
  float bias = ctx.attrs().get_float("bias", 1.0f);
  int64_t size = ctx.attrs().get_int("size", 1);
  int64_t N = x.shape()[0], C = x.shape()[1], S = x.numel() / std::max<int64_t>(1, N * C);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  FloatIn xin = float_input(x, ctx.pool());
  FloatOut yout;
  yout.init(y);
  ctx.pool().parallel_for(0, N * C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, S * size)),
                          [&](int64_t b, int64_t e) {
                            for (int64_t nc = b; nc < e; ++nc) {
                              int64_t n = nc / C, c = nc % C;
                              int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min(C - 1, c + hi);
                              const float* xc = xin.p + nc * S;
                              float* yc = yout.p + nc * S;
                              for (int64_t s = 0; s < S; ++s) {
                                float sq = 0;
                                for (int64_t j = c0; j <= c1; ++j) {
                                  float v = xin.p[(n * C + j) * S + s];
                                  sq += v * v;
                                }
                                yc[s] = xc[s] / std::pow(bias + alpha / static_cast<float>(size) * sq, beta);
                              }
                            }
                          });
  yout.finish(ctx.pool());
}

}  // namespace

void register_image_geometry_kernels(KernelTable& t) {
  t.add("CenterCropPad", center_crop_pad);
  t.add("Col2Im", col2im);
  t.add("MaxUnpool", max_unpool);
  t.add("LRN", lrn);
  t.add("GridSample", grid_sample);
  t.add("AffineGrid", affine_grid);
}
}  // namespace r1::cpu
