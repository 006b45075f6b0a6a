// Winograd F(2x2, 3x3) with bf16 products (precision="bf16"): conv_winograd.cc's algorithm with the 16
// GEMMs Y'[xi] = U[xi] x V[xi] in bf16. im2col in bf16 only doubles the rate of the fp32 products, which
// is what Winograd's 2.25x fewer products already give in fp32; both together make the 3x3 stride-1
// convs (most of ResNet's time) about twice as fast again.
// U comes in bf16 from the weight cache (conv_bf16.cc: transformed and converted once per weight);
// V is transformed in fp32 (conv_avx512::wino_input) and packed into bf16 pairs per xi, so the
// rounding is that of the bf16 GEMM and the transforms stay fp32. Per image and block of tile rows:
//   V[16][C][tiles] = B^T d B; per xi: Vp = pairs(V[xi]), Y'[xi] = U[xi] x Vp; Y = A^T Y' A + epilogue.
#include <algorithm>

#include "r1/cpu/kernels/conv_kernels.h"

namespace r1::cpu {
void conv_winograd_bf16(const ConvArgs& a, const uint16_t* ub, int64_t ldu, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  const int64_t C = a.c, M = a.m, OH = g.out[0], OW = g.out[1], IS = g.in[0] * g.in[1], OS = OH * OW;
  const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  Plane2d q{g.in[0], g.in[1], 3, 3, OH, OW, 1, 1, 1, 1, g.pb[0], g.pb[1]};
  const int threads = pool.num_threads();

  const WinoSplit sp = plan_wino_split(TH, TW, C, M, threads);
  const int64_t rows_per_block = sp.rows_per_block;
  const int64_t scratch_floats = conv_avx512::wino_scratch_floats(q, TH, TW, rows_per_block);
  const int64_t tb_max = rows_per_block * TW;
  const int64_t ldp_max = (tb_max + 15) / 16 * 16;
  for (int64_t img = 0; img < a.n; ++img) {
    const float* x = a.x + img * C * IS;
    float* y = a.y + img * M * OS;
    const float* r = a.residual ? a.residual + img * M * OS : nullptr;
    pool.parallel_for(0, sp.tasks(), 1, [&](int64_t tb0, int64_t te) {
      // Kept between calls: fresh buffers would cost their page faults on every call.
      thread_local std::vector<float> v_buf, y_buf, scratch;
      thread_local std::vector<uint32_t> vp;
      if (v_buf.size() < static_cast<size_t>(16 * C * tb_max)) v_buf.resize(static_cast<size_t>(16 * C * tb_max));
      if (y_buf.size() < static_cast<size_t>(16 * M * tb_max)) y_buf.resize(static_cast<size_t>(16 * M * tb_max));
      if (scratch.size() < static_cast<size_t>(scratch_floats)) scratch.resize(static_cast<size_t>(scratch_floats));
      if (vp.size() < static_cast<size_t>((C + 1) / 2 * ldp_max)) vp.resize(static_cast<size_t>((C + 1) / 2 * ldp_max));
      for (int64_t t = tb0; t < te; ++t) {
        const int64_t blk = t / sp.m_chunks, m0 = (t % sp.m_chunks) * sp.mc, m1 = std::min(M, m0 + sp.mc);
        int64_t ty0 = blk * rows_per_block, ty1 = std::min(TH, ty0 + rows_per_block), tb = (ty1 - ty0) * TW;
        int64_t ldp = (tb + 15) / 16 * 16;
        conv_avx512::wino_input(x, C, IS, q, TH, TW, ty0, ty1, v_buf.data(), scratch.data());
        for (int xi = 0; xi < 16; ++xi) {
          const float* v = v_buf.data() + xi * C * tb;
          for (int64_t c = 0; c < C; c += 2)
            conv_avx512::pack_bf16_pairs(v + c * tb, c + 1 < C ? v + (c + 1) * tb : nullptr, tb, ldp,
                                         vp.data() + c / 2 * ldp);
          conv_avx512::gemm_tile_bf16(m1 - m0, tb, (C + 1) / 2, ub + xi * M * ldu + m0 * ldu, ldu, vp.data(), ldp,
                                      y_buf.data() + xi * M * tb + m0 * tb, tb, false, nullptr, nullptr, nullptr, 0);
        }
        conv_avx512::wino_output(y_buf.data(), M, m0, m1, TW, ty0, ty1, y, OH, OW, a.ep.bias, r, a.ep);
      }
    });
  }
}

}  // namespace r1::cpu
