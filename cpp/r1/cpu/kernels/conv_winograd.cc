// Winograd F(2x2, 3x3) for 3x3, stride-1, undilated convolutions (ResNet's and most CNNs' bulk):
// 16 multiplies per 2x2 output tile and channel pair instead of 36, so 2.25x fewer FLOPs, at the cost
// of transforming the weights on every call (no pre-packed weights yet: ~2% of the GEMM work for
// C, M >= 64) and staging transformed tiles. Per image:
//   U[16][M][C] = G g G^T                        (parallel over channel pairs)
//   per block of tile rows (the tasks):
//     V[16][C][tiles] = B^T d B                  (input tiles of the block)
//     Y'[xi] = U[xi] x V[xi] for the 16 xi       (conv_avx512::gemm_tile, tiles as columns)
//     Y = A^T Y' A + bias + residual, activation (each output written once)
// Blocks are sized so V and Y' of a block stay in L2.
#include <algorithm>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/conv_kernels.h"

namespace r1::cpu {
namespace {

// Bytes of V + Y' per block: about half of a 1-2 MB L2, leaving room for U's slices and the output.
constexpr int64_t kBlockBytes = 512 * 1024;

}  // namespace

bool winograd_applies(const ConvArgs& a) {
  const conv_geom::Geom& g = a.geom;
  if (!cpu_features().has_avx512_kernels() || g.nd != 2 || a.group != 1) return false;
  for (int i = 0; i < 2; ++i)
    if (g.k[i] != 3 || g.s[i] != 1 || g.d[i] != 1) return false;
  // The weight transform and the tile staging pay off from ~32 channels each way and a few rows of
  // tiles; 7x7 maps (16 tiles, 30% of them padding) with 512 channels measured slower than GEMM.
  int64_t tiles = ((g.out[0] + 1) / 2) * ((g.out[1] + 1) / 2);
  return a.c >= 32 && a.m >= 32 && tiles >= 32;
}

WinoSplit plan_wino_split(int64_t TH, int64_t TW, int64_t C, int64_t M, int threads) {
  WinoSplit s;
  s.rows_per_block = std::min(TH, std::max<int64_t>(1, kBlockBytes / (16 * 4 * (C + M) * TW)));
  s.blocks = (TH + s.rows_per_block - 1) / s.rows_per_block;
  const int64_t want = threads > 1 ? 4 * threads : 1;
  // Channel chunks of at least 64 rows keep the GEMM tiles efficient; each chunk transforms its
  // block's input again (1/M of the block's work), which is cheaper than an idle thread.
  if (s.blocks < want) s.m_chunks = std::max<int64_t>(1, std::min((want + s.blocks - 1) / s.blocks, M / 64));
  if (s.tasks() < want && threads > 1) {
    // Few channels too: thinner blocks, as a last resort.
    s.rows_per_block = std::max<int64_t>(1, std::min(s.rows_per_block, TH / (2 * threads)));
    s.blocks = (TH + s.rows_per_block - 1) / s.rows_per_block;
  }
  s.mc = (M + s.m_chunks - 1) / s.m_chunks;
  s.mc = s.mc < M ? (s.mc + 7) / 8 * 8 : M;
  s.m_chunks = (M + s.mc - 1) / s.mc;
  return s;
}

void conv_winograd(const ConvArgs& a, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  const int64_t C = a.c, M = a.m, OH = g.out[0], OW = g.out[1], IS = g.in[0] * g.in[1], OS = OH * OW;
  const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  Plane2d q{g.in[0], g.in[1], 3, 3, OH, OW, 1, 1, 1, 1, g.pb[0], g.pb[1]};
  const int threads = pool.num_threads();

  // Transformed weights, kept between calls (up to 4 MB: a fresh buffer would cost its page faults).
  thread_local std::vector<float> u_buf;
  const int64_t pairs = M * C;
  if (u_buf.size() < static_cast<size_t>(16 * pairs)) u_buf.resize(static_cast<size_t>(16 * pairs));
  float* U = u_buf.data();
  pool.parallel_for(0, (pairs + 15) / 16, std::max<int64_t>(1, 256 / threads), [&](int64_t b, int64_t e) {
    conv_avx512::wino_weights(a.w, b * 16, std::min(pairs, e * 16), pairs, U);
  });

  const WinoSplit sp = plan_wino_split(TH, TW, C, M, threads);
  const int64_t rows_per_block = sp.rows_per_block;
  const int64_t scratch_floats = conv_avx512::wino_scratch_floats(q, TH, TW, rows_per_block);
  const int64_t tb_max = rows_per_block * TW;
  for (int64_t img = 0; img < a.n; ++img) {
    const float* x = a.x + img * C * IS;
    float* y = a.y + img * M * OS;
    const float* r = a.residual ? a.residual + img * M * OS : nullptr;
    pool.parallel_for(0, sp.tasks(), 1, [&](int64_t tb0, int64_t te) {
      thread_local std::vector<float> v_buf, y_buf, scratch;  // kept: see u_buf
      if (v_buf.size() < static_cast<size_t>(16 * C * tb_max)) v_buf.resize(static_cast<size_t>(16 * C * tb_max));
      if (y_buf.size() < static_cast<size_t>(16 * M * tb_max)) y_buf.resize(static_cast<size_t>(16 * M * tb_max));
      if (scratch.size() < static_cast<size_t>(scratch_floats)) scratch.resize(static_cast<size_t>(scratch_floats));
      for (int64_t t = tb0; t < te; ++t) {
        const int64_t blk = t / sp.m_chunks, m0 = (t % sp.m_chunks) * sp.mc, m1 = std::min(M, m0 + sp.mc);
        int64_t ty0 = blk * rows_per_block, ty1 = std::min(TH, ty0 + rows_per_block), tb = (ty1 - ty0) * TW;
        conv_avx512::wino_input(x, C, IS, q, TH, TW, ty0, ty1, v_buf.data(), scratch.data());
        for (int xi = 0; xi < 16; ++xi)
          conv_avx512::gemm_tile(m1 - m0, tb, C, U + xi * pairs + m0 * C, C, v_buf.data() + xi * C * tb, tb,
                                 y_buf.data() + xi * M * tb + m0 * tb, tb, false, nullptr, nullptr, nullptr, 0);
        conv_avx512::wino_output(y_buf.data(), M, m0, m1, TW, ty0, ty1, y, OH, OW, a.ep.bias, r, a.ep);
      }
    });
  }
}

}  // namespace r1::cpu
