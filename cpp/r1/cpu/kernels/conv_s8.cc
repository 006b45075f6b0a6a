// The int8 convolution driver (layouts and formula in conv_s8.h): per image, quantize the input into X4,
// then per task (a group, a 48-pixel panel, a run of output channels) gather the panel's K quads and run
// the VNNI (or portable) tile, then the fp32 epilogue on the tile's rows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/conv_s8_driver.h"

namespace r1::cpu {
namespace {

constexpr int64_t kPanel = 48;

int64_t kernel_size(const conv_geom::Geom& g) {
  int64_t ks = 1;
  for (int64_t k : g.k) ks *= k;
  return ks;
}

// The conv's plane (1-D convs as H = 1).
struct Plane {
  int64_t H, W, KH, KW, OH, OW, sh, sw, dh, dw, ph, pw;
};
Plane plane(const conv_geom::Geom& g) {
  const bool one = g.nd == 1;
  const int l = g.nd - 1;
  return {one ? 1 : g.in[0], g.in[l], one ? 1 : g.k[0], g.k[l], one ? 1 : g.out[0], g.out[l],
          one ? 1 : g.s[0],  g.s[l],  one ? 1 : g.d[0], g.d[l], one ? 0 : g.pb[0],  g.pb[l]};
}

// Gathers the K quads of pixels [p0, p0 + np) from X4 of one group into a panel [kq][48][4].
void build_panel(const uint32_t* x4, const Plane& q, int64_t C4, int64_t p0, int64_t np, uint32_t zero_word,
                 uint32_t* panel) {
  const int64_t HW = q.H * q.W;
  for (int64_t ky = 0; ky < q.KH; ++ky)
    for (int64_t kx = 0; kx < q.KW; ++kx)
      for (int64_t c4 = 0; c4 < C4; ++c4) {
        uint32_t* d = panel + ((ky * q.KW + kx) * C4 + c4) * kPanel;
        const uint32_t* plane = x4 + c4 * HW;
        int64_t j = 0;
        while (j < np) {  // runs of pixels in one output row
          const int64_t p = p0 + j, oy = p / q.OW, ox0 = p % q.OW;
          const int64_t run = std::min(np - j, q.OW - ox0);
          const int64_t iy = oy * q.sh - q.ph + ky * q.dh;
          if (iy < 0 || iy >= q.H) {
            std::fill(d + j, d + j + run, zero_word);
          } else if (q.sw == 1) {
            // Stride 1: the taps of a run are consecutive input pixels; copy the part inside the row.
            const uint32_t* row = plane + iy * q.W;
            const int64_t ix0 = ox0 - q.pw + kx * q.dw;  // input column of the run's first pixel
            const int64_t t0 = std::min(run, std::max<int64_t>(0, -ix0));
            const int64_t t1 = std::max(t0, std::min(run, q.W - ix0));
            std::fill(d + j, d + j + t0, zero_word);
            std::memcpy(d + j + t0, row + ix0 + t0, static_cast<size_t>(t1 - t0) * sizeof(uint32_t));
            std::fill(d + j + t1, d + j + run, zero_word);
          } else {
            const uint32_t* row = plane + iy * q.W;
            for (int64_t t = 0; t < run; ++t) {
              const int64_t ix = (ox0 + t) * q.sw - q.pw + kx * q.dw;
              d[j + t] = ix >= 0 && ix < q.W ? row[ix] : zero_word;
            }
          }
          j += run;
        }
        std::fill(d + np, d + kPanel, 0u);
      }
}

}  // namespace

bool conv_s8_applies(const ConvArgs& a) {
  return conv_s8_shape_applies(a.geom.nd, a.c, a.m, a.group, kernel_size(a.geom));
}

void conv_s8_tile_ref(const ConvS8Tile& t) {
  std::vector<int32_t> acc(static_cast<size_t>(kPanel));
  for (int64_t r = 0; r < t.rows; ++r) {
    std::fill(acc.begin(), acc.end(), 0);
    const int8_t* w = t.w + r * t.ldw;
    for (int64_t k = 0; k < t.kq; ++k)
      for (int64_t j = 0; j < t.np; ++j) {
        const uint8_t* x = t.panel + k * t.panel_stride + 4 * j;
        acc[j] += x[0] * w[4 * k] + x[1] * w[4 * k + 1] + x[2] * w[4 * k + 2] + x[3] * w[4 * k + 3];
      }
    const float sc = t.a_scale * t.wscale[r];
    for (int64_t j = 0; j < t.np; ++j) t.y[r * t.ldy + j] = static_cast<float>(acc[j] - t.a_zero * t.wsum[r]) * sc;
  }
}

void quantize_x4_ref(const float* x, int64_t C, int64_t HW, float scale, int32_t zero, uint8_t* x4) {
  for (int64_t c4 = 0; c4 < (C + 3) / 4; ++c4)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t r = 0; r < 4; ++r) {
        const int64_t c = 4 * c4 + r;
        int32_t v = 0;
        if (c < C) v = std::min(255, std::max(0, static_cast<int32_t>(std::nearbyint(x[c * HW + p] / scale)) + zero));
        x4[(c4 * HW + p) * 4 + r] = static_cast<uint8_t>(v);
      }
}

void conv_forward_s8(const ConvArgs& a, const ConvWeightsS8& wq, const ConvActQuant& aq, ThreadPool& pool) {
  const Plane q = plane(a.geom);
  const int64_t cg = a.c / a.group, mg = a.m / a.group, C4 = (cg + 3) / 4;
  const int64_t HW = q.H * q.W, P = q.OH * q.OW;
  if (a.n == 0 || a.m == 0 || P == 0) return;
  const ConvWeightsS8Data& W = *wq.hold;
  const bool vnni = gemm::s8_vnni_available();
  const bool avx512 = gemm::fast_gemm_available();
  // + 48 words: a direct panel (below) reads whole 48-pixel vectors past the last pixel (lanes never stored).
  std::vector<uint32_t> x4(static_cast<size_t>(a.group * C4 * HW + kPanel));
  // A 1x1 conv with stride 1 and no padding reads X4 itself: its K quads of pixels p0.. are X4's planes.
  const bool direct =
      q.KH == 1 && q.KW == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0 && q.OH == q.H && q.OW == q.W;
  const int64_t panels = (P + kPanel - 1) / kPanel;
  // Output-channel chunks (of whole 8-row tiles) when panels alone cannot keep the threads busy.
  const int threads = pool.num_threads();
  int64_t chunks = 1;
  if (a.group * panels < 4 * threads)
    chunks = std::min((mg + 7) / 8, (4 * threads + a.group * panels - 1) / (a.group * panels));
  const int64_t rows_per_chunk = ((mg + chunks - 1) / chunks + 7) / 8 * 8;
  chunks = (mg + rows_per_chunk - 1) / rows_per_chunk;
  // DynamicQuantizeLinear's scale and zero point over `count` floats (the batch, or one image).
  auto dynamic = [](const float* x, int64_t count, float* scale, int32_t* zero) {
    gemm::dynamic_quant_params(x, count, 1, count, scale, zero);
  };
  float batch_scale = aq.scale;
  int32_t batch_zero = aq.zero;
  if (aq.per_tensor && !aq.is_static) dynamic(a.x, a.n * a.c * HW, &batch_scale, &batch_zero);
  for (int64_t n = 0; n < a.n; ++n) {
    const float* x = a.x + n * a.c * HW;
    float scale = batch_scale;
    int32_t zero = batch_zero;
    if (!aq.is_static && !aq.per_tensor) dynamic(x, a.c * HW, &scale, &zero);  // this image's range
    pool.parallel_for(0, a.group * C4, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t g = i / C4, c4 = i % C4;
        const int64_t c = std::min<int64_t>(4, cg - 4 * c4);
        uint8_t* d = reinterpret_cast<uint8_t*>(x4.data() + (g * C4 + c4) * HW);
        const float* src = x + (g * cg + 4 * c4) * HW;
        if (avx512)
          quantize_x4_avx512(src, c, HW, scale, zero, d);
        else
          quantize_x4_ref(src, c, HW, scale, zero, d);
      }
    });
    const uint32_t zero_word = 0x01010101u * static_cast<uint32_t>(zero);
    const int64_t tasks = a.group * panels * chunks;
    pool.parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
      thread_local std::vector<uint32_t> panel;
      if (!direct) panel.resize(static_cast<size_t>(W.kq * kPanel));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t g = t / (panels * chunks), pi = (t / chunks) % panels, ci = t % chunks;
        const int64_t p0 = pi * kPanel, np = std::min(kPanel, P - p0);
        const int64_t m0 = g * mg + ci * rows_per_chunk, m1 = std::min(g * mg + mg, m0 + rows_per_chunk);
        if (m1 <= m0) continue;
        ConvS8Tile tile;
        tile.kq = W.kq;
        if (direct) {
          tile.panel = reinterpret_cast<const uint8_t*>(x4.data() + g * C4 * HW + p0);
          tile.panel_stride = HW * 4;
        } else {
          build_panel(x4.data() + g * C4 * HW, q, C4, p0, np, zero_word, panel.data());
          tile.panel = reinterpret_cast<const uint8_t*>(panel.data());
        }
        tile.w = W.w.data() + m0 * W.ldw;
        tile.ldw = W.ldw;
        tile.wsum = W.sum.data() + m0;
        tile.wscale = W.scale.data() + m0;
        tile.rows = m1 - m0;
        tile.np = np;
        tile.a_zero = zero;
        tile.a_scale = scale;
        tile.y = a.y + (n * a.m + m0) * P + p0;
        tile.ldy = P;
        if (vnni)
          conv_s8_tile_avx512(tile);
        else
          conv_s8_tile_ref(tile);
        for (int64_t m = m0; m < m1; ++m) {
          float* y = a.y + (n * a.m + m) * P + p0;
          const float b = a.ep.bias ? a.ep.bias[m] : 0.f;
          const float* r = a.residual ? a.residual + (n * a.m + m) * P + p0 : nullptr;
          if (avx512)
            conv_avx512::epilogue_row(y, np, b, r, a.ep);
          else
            epilogue_row_ref(y, np, b, r, a.ep);
        }
      }
    });
  }
}

}  // namespace r1::cpu
