// CPU kernels of RMSNormalization and RotaryEmbedding (opset 23), in float with double row sums.
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// y = x / sqrt(mean(x^2 over the dims from axis) + epsilon) * scale.
void rms_normalization(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), x.rank(), "RMSNormalization axis");
  float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  Shape ns(x.shape().begin() + axis, x.shape().end());
  int64_t len = numel(ns), rows = len ? x.numel() / len : 0;
  std::vector<float> scale = expand_to(ctx.input(1), ns, "RMSNormalization scale");
  FloatIn xin = float_input(x, ctx.pool());
  FloatOut yout;
  yout.init(y);
  ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, len)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = xin.p + r * len;
      float* yr = yout.p + r * len;
      double sq = 0;
      for (int64_t j = 0; j < len; ++j) sq += static_cast<double>(xr[j]) * xr[j];
      auto inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(len) + eps));
      for (int64_t j = 0; j < len; ++j) yr[j] = xr[j] * inv * scale[j];
    }
  });
  yout.finish(ctx.pool());
}

// Rotates pairs of each head's first rot dims by the cached angle of the token's position: pairs are
// (i, i + rot/2), or (2i, 2i + 1) when interleaved.
void rotary_embedding(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Shape& xs = x.shape();
  bool four_d = x.rank() == 4;
  int64_t B = xs[0], H, S, D;
  if (four_d) {
    H = xs[1];
    S = xs[2];
    D = xs[3];
  } else {
    H = ctx.attrs().get_int("num_heads", 0);
    S = xs[1];
    R1_CHECK(H > 0 && xs[2] % H == 0, InputError)
        << "RotaryEmbedding: hidden size " << xs[2] << " is not a multiple of num_heads " << H;
    D = xs[2] / H;
  }
  int64_t rot = ctx.attrs().get_int("rotary_embedding_dim", 0);
  if (rot == 0) rot = D;
  R1_CHECK(rot % 2 == 0 && rot <= D, InputError)
      << "RotaryEmbedding: rotary_embedding_dim " << rot << " must be even and at most the head size " << D;
  int64_t half = rot / 2;
  bool interleaved = ctx.attrs().get_int("interleaved", 0) != 0;
  const Tensor& cos_t = ctx.input(1);
  const Tensor& sin_t = ctx.input(2);
  R1_CHECK(cos_t.shape() == sin_t.shape() && cos_t.shape().back() == half, InputError)
      << "RotaryEmbedding: cos_cache " << cos_t.describe() << " and sin_cache " << sin_t.describe()
      << " must match, with a last dim of rotary_embedding_dim / 2 = " << half;
  bool has_pos = ctx.has_input(3) && ctx.input(3).numel() > 0;
  std::vector<int64_t> pos;
  if (has_pos) {
    pos = ctx.input(3).to_int64_vector();
    R1_CHECK(static_cast<int64_t>(pos.size()) == B * S, InputError)
        << "RotaryEmbedding: position_ids holds " << pos.size() << " values for " << B << "x" << S << " tokens";
    for (int64_t p : pos)
      R1_CHECK(p >= 0 && p < cos_t.shape()[0], InputError)
          << "RotaryEmbedding: position " << p << " is past the cache's " << cos_t.shape()[0] << " rows";
  } else {
    R1_CHECK(cos_t.rank() == 3 && cos_t.shape()[0] == B && cos_t.shape()[1] == S, InputError)
        << "RotaryEmbedding: without position_ids the caches must be [batch, seq, rot/2], got " << cos_t.describe();
  }
  std::vector<float> cs = to_floats(cos_t), sn = to_floats(sin_t);
  FloatIn xin = float_input(x, ctx.pool());
  Tensor& y = ctx.output(0);
  FloatOut yout;
  yout.init(y);
  ctx.pool().parallel_for(0, B * S * H, 16, [&](int64_t b0, int64_t e0) {
    for (int64_t t = b0; t < e0; ++t) {
      int64_t b = t / (S * H), s = (t / H) % S, h = t % H;
      int64_t off = four_d ? ((b * H + h) * S + s) * D : ((b * S + s) * H + h) * D;
      int64_t row = has_pos ? pos[b * S + s] : b * S + s;
      const float* c = cs.data() + row * half;
      const float* sv = sn.data() + row * half;
      const float* xr = xin.p + off;
      float* yr = yout.p + off;
      for (int64_t i = 0; i < half; ++i) {
        int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
        float x1 = xr[i1], x2 = xr[i2];
        yr[i1] = c[i] * x1 - sv[i] * x2;
        yr[i2] = sv[i] * x1 + c[i] * x2;
      }
      for (int64_t i = rot; i < D; ++i) yr[i] = xr[i];
    }
  });
  yout.finish(ctx.pool());
}

}  // namespace

void register_rms_rotary_kernels(KernelTable& t) {
  t.add("RMSNormalization", rms_normalization);
  t.add("RotaryEmbedding", rotary_embedding);
}
}  // namespace r1::cpu
