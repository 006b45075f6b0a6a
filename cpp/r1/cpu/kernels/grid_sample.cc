// GridSample (2-D and 3-D; nearest, linear and, in 2-D, cubic; zeros, border and reflection padding)
// and AffineGrid. The coordinate rules are onnxruntime's and ONNX's reference, step for step:
// denormalize, adjust out-of-range coordinates by the padding mode, then read each tap through the
// padding mode again.
#include "r1/cpu/kernels/grid_sample.h"

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"

namespace r1::cpu {
namespace {

enum class Pad { Zeros, Border, Reflection };
enum class Mode { Nearest, Linear, Cubic };

float denormalize(float v, int64_t len, bool align) {
  return align ? (v + 1) / 2.0f * static_cast<float>(len - 1) : ((v + 1) * static_cast<float>(len) - 1) / 2.0f;
}

// Reflects x by the nearer border until it lies within [lo, hi].
float reflect(float x, float lo, float hi) {
  float range = hi - lo;
  if (range <= 0) return lo;  // a 1-pixel dim with align_corners: every reflection lands on it
  if (x < lo) {
    float dx = lo - x;
    int n = static_cast<int>(dx / range);
    float r = dx - static_cast<float>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    float dx = x - hi;
    int n = static_cast<int>(dx / range);
    float r = dx - static_cast<float>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

struct Dim {
  int64_t len;
  float lo, hi;  // reflection borders
};

// The index a tap reads along one dim, or -1 for a zero (zeros padding outside the input).
int64_t tap(int64_t i, const Dim& d, Pad pad) {
  if (i >= 0 && i < d.len) return i;
  if (pad == Pad::Zeros) return -1;
  if (pad == Pad::Border) return i < 0 ? 0 : d.len - 1;
  auto r = static_cast<int64_t>(reflect(static_cast<float>(i), d.lo, d.hi));
  return std::min(std::max<int64_t>(r, 0), d.len - 1);
}

void cubic_coeffs(float x, float* c) {
  constexpr float a = -0.75f;
  x = std::fabs(x);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

// One output value: x holds the denormalized coordinates (outermost spatial dim first).
float sample(const float* img, const std::vector<Dim>& dims, const float* x, Mode mode, Pad pad) {
  size_t nd = dims.size();
  // Per dim: the taps (index, weight); the value is the weighted sum over their product.
  std::array<std::array<int64_t, 4>, 3> idx{};
  std::array<std::array<float, 4>, 3> w{};
  int taps = mode == Mode::Nearest ? 1 : mode == Mode::Linear ? 2 : 4;
  for (size_t d = 0; d < nd; ++d) {
    if (mode == Mode::Nearest) {
      idx[d][0] = tap(static_cast<int64_t>(x[d]), dims[d], pad);
      w[d][0] = 1;
      continue;
    }
    float f = std::floor(x[d]);
    auto i0 = static_cast<int64_t>(f);
    float t = x[d] - f;
    if (mode == Mode::Linear) {
      w[d][0] = 1 - t;
      w[d][1] = t;
      for (int k = 0; k < 2; ++k) idx[d][k] = tap(i0 + k, dims[d], pad);
    } else {
      cubic_coeffs(t, w[d].data());
      for (int k = 0; k < 4; ++k) idx[d][k] = tap(i0 - 1 + k, dims[d], pad);
    }
  }
  float acc = 0;
  int total = 1;
  for (size_t d = 0; d < nd; ++d) total *= taps;
  for (int combo = 0; combo < total; ++combo) {
    int rem = combo;
    int64_t off = 0;
    float weight = 1;
    bool zero = false;
    for (size_t d = 0; d < nd; ++d) {
      int k = rem % taps;
      rem /= taps;
      int64_t i = idx[d][k];
      if (i < 0) {
        zero = true;
        break;
      }
      off = off * dims[d].len + i;
      weight *= w[d][k];
    }
    if (!zero) acc += weight * img[off];
  }
  return acc;
}

}  // namespace

void grid_sample(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Tensor& g_t = ctx.input(1);
  const Shape& xs = x_t.shape();
  const Shape& gs = g_t.shape();
  size_t nd = xs.size() - 2;
  R1_CHECK(gs.size() == xs.size() && gs[0] == xs[0] && gs.back() == static_cast<int64_t>(nd), InputError)
      << "GridSample: grid " << g_t.describe() << " does not match X " << x_t.describe();
  std::string m = ctx.attrs().get_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
  Mode mode = m == "nearest" ? Mode::Nearest : (m == "cubic" || m == "bicubic") ? Mode::Cubic : Mode::Linear;
  std::string p = ctx.attrs().get_string("padding_mode", "zeros");
  Pad pad = p == "border" ? Pad::Border : p == "reflection" ? Pad::Reflection : Pad::Zeros;
  bool align = ctx.attrs().get_int("align_corners", 0) != 0;
  std::vector<Dim> dims(nd);
  int64_t in_sp = 1, out_sp = 1;
  for (size_t d = 0; d < nd; ++d) {
    int64_t len = xs[d + 2];
    dims[d] = {len, align ? 0.0f : -0.5f, align ? static_cast<float>(len - 1) : static_cast<float>(len) - 0.5f};
    in_sp *= len;
    out_sp *= gs[d + 1];
  }
  int64_t N = xs[0], C = xs[1];
  Tensor& y_t = ctx.output(0);
  if (y_t.numel() == 0) return;
  FloatIn xin = float_input(x_t, ctx.pool());
  FloatIn gin = float_input(g_t, ctx.pool());
  FloatOut yout;
  yout.init(y_t);
  ctx.pool().parallel_for(0, N * out_sp, 64, [&](int64_t b, int64_t e) {
    float coord[3];
    for (int64_t t = b; t < e; ++t) {
      int64_t n = t / out_sp, o = t % out_sp;
      const float* gv = gin.p + t * static_cast<int64_t>(nd);
      for (size_t d = 0; d < nd; ++d) {
        // The grid lists x (width) first: reversed against the spatial dims.
        float v = denormalize(gv[nd - 1 - d], dims[d].len, align);
        if (mode == Mode::Nearest) v = std::nearbyint(v);
        if (v < dims[d].lo || v > dims[d].hi) {
          if (pad == Pad::Border) v = std::min(std::max(v, 0.0f), static_cast<float>(dims[d].len - 1));
          if (pad == Pad::Reflection) v = reflect(v, dims[d].lo, dims[d].hi);
        }
        coord[d] = v;
      }
      for (int64_t c = 0; c < C; ++c)
        yout.p[(n * C + c) * out_sp + o] = sample(xin.p + (n * C + c) * in_sp, dims, coord, mode, pad);
    }
  });
  yout.finish(ctx.pool());
}

// grid[n, spatial..., :] = theta[n] @ (x, y[, z], 1) over the normalized pixel positions.
void affine_grid(KernelContext& ctx) {
  const Tensor& th_t = ctx.input(0);
  std::vector<int64_t> size = ctx.input(1).to_int64_vector();
  size_t nd = size.size() - 2;
  const Shape& ts = th_t.shape();
  R1_CHECK((nd == 2 || nd == 3) && ts[0] == size[0] && ts[1] == static_cast<int64_t>(nd) &&
               ts[2] == static_cast<int64_t>(nd) + 1,
           InputError)
      << "AffineGrid: theta " << th_t.describe() << " does not fit size of " << size.size() << " values";
  bool align = ctx.attrs().get_int("align_corners", 0) != 0;
  std::vector<std::vector<float>> axis(nd);  // normalized positions per spatial dim (outermost first)
  int64_t sp = 1;
  for (size_t d = 0; d < nd; ++d) {
    int64_t len = size[d + 2];
    sp *= len;
    for (int64_t i = 0; i < len; ++i)
      // align_corners with one pixel: 0, as PyTorch's affine_grid (which the op comes from) gives; onnx's
      // reference says -1 and onnxruntime 1.
      axis[d].push_back(align ? (len > 1 ? -1.0f + 2.0f * static_cast<float>(i) / static_cast<float>(len - 1) : 0.0f)
                              : -1.0f + (2.0f * static_cast<float>(i) + 1.0f) / static_cast<float>(len));
  }
  Tensor& y_t = ctx.output(0);
  if (y_t.numel() == 0) return;
  std::vector<float> theta;
  dispatch_float(th_t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < th_t.numel(); ++i) theta.push_back(static_cast<float>(th_t.data<T>()[i]));
  });
  FloatOut yout;
  yout.init(y_t);
  int64_t k = static_cast<int64_t>(nd) + 1;
  for (int64_t n = 0; n < size[0]; ++n)
    for (int64_t o = 0; o < sp; ++o) {
      float h[4];  // (x, y[, z], 1): x is the innermost dim
      int64_t rem = o;
      for (size_t d = nd; d-- > 0;) {
        int64_t len = size[d + 2];
        h[nd - 1 - d] = axis[d][rem % len];
        rem /= len;
      }
      h[nd] = 1;
      for (size_t r = 0; r < nd; ++r) {
        float acc = 0;
        for (int64_t j = 0; j < k; ++j) acc += theta[(n * static_cast<int64_t>(nd) + r) * k + j] * h[j];
        yout.p[(n * sp + o) * static_cast<int64_t>(nd) + r] = acc;
      }
    }
  yout.finish(ctx.pool());
}

}  // namespace r1::cpu
