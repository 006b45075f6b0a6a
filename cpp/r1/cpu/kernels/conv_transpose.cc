// CPU kernel of ConvTranspose: per image and group, cols = W^T x X (conv_sgemm), then col2im adds each
// column into the output. 16-bit floats are computed in fp32.
#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/cpu/gemm/conv_sgemm.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {
namespace {

int64_t prod(const std::vector<int64_t>& v, size_t from = 0) {
  int64_t p = 1;
  for (size_t i = from; i < v.size(); ++i) p *= v[i];
  return p;
}

// Columns per GEMM task: enough tasks to balance the pool, bounded im2col buffers.
int64_t column_block(int64_t cols, int64_t outer_tasks, int64_t rows_k, int threads) {
  int64_t want = std::max<int64_t>(1, (4 * threads + outer_tasks - 1) / std::max<int64_t>(outer_tasks, 1));
  if (outer_tasks >= 2 * threads) want = 1;
  int64_t cb = (cols + want - 1) / want;
  cb = (cb + 15) / 16 * 16;
  int64_t cap = std::max<int64_t>(64, ((int64_t{1} << 20) / std::max<int64_t>(rows_k, 1)) / 16 * 16);
  cb = std::min(cb, cap);
  cb = std::max<int64_t>(cb, std::min<int64_t>(cols, 64));
  return std::max<int64_t>(1, std::min(cb, cols));
}

// ---------------------------------------------------------------- ConvTranspose
void conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  int64_t group = ctx.attrs().get_int("group", 1);
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  Shape in_sp(xs.begin() + 2, xs.end());
  conv_geom::Geom g = conv_geom::transpose(ctx.attrs(), in_sp, conv_kernel_dims(ctx, ws));
  if (y.numel() == 0) return;
  ThreadPool& pool = ctx.pool();
  FloatIn fx = float_input(x, pool);
  FloatIn fw = float_input(w, pool);
  FloatIn fb;
  if (ctx.has_input(2)) fb = float_input(ctx.input(2), pool);
  FloatOut fy;
  fy.init(y);
  const float* X = fx.p;
  const float* W = fw.p;
  const float* B = fb.p;
  float* Y = fy.p;
  int nd = g.nd;
  int64_t N = xs[0], C = xs[1], Cg = C / group, Mg = ws[1], M = Mg * group;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k);
  int64_t rows = Mg * KS;
  // Output offset of every (kernel tap, input position); -1 where it falls outside the output.
  std::vector<int64_t> idx(KS * IS);
  pool.parallel_for(0, KS, 1, [&](int64_t b, int64_t e) {
    std::vector<int64_t> kc(nd), ic(nd);
    for (int64_t kk = b; kk < e; ++kk) {
      int64_t r = kk;
      for (int d = nd - 1; d >= 0; --d) {
        kc[d] = r % g.k[d];
        r /= g.k[d];
      }
      for (int64_t i = 0; i < IS; ++i) {
        int64_t q = i;
        for (int d = nd - 1; d >= 0; --d) {
          ic[d] = q % g.in[d];
          q /= g.in[d];
        }
        int64_t off = 0;
        bool ok = true;
        for (int d = 0; d < nd; ++d) {
          int64_t p = ic[d] * g.s[d] - g.pb[d] + kc[d] * g.d[d];
          if (p < 0 || p >= g.out[d]) {
            ok = false;
            break;
          }
          off = off * g.out[d] + p;
        }
        idx[kk * IS + i] = ok ? off : -1;
      }
    }
  });
  std::vector<float> col(static_cast<size_t>(group * rows * IS));
  int64_t CB = column_block(IS, group, rows, pool.num_threads());
  int64_t nblk = IS > 0 ? (IS + CB - 1) / CB : 0;
  for (int64_t n = 0; n < N; ++n) {
    pool.parallel_for(0, group * nblk, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t) {
        int64_t gi = t / nblk, blk = t % nblk;
        int64_t j0 = blk * CB, nc = std::min(CB, IS - j0);
        const float* wg = W + gi * Cg * rows;
        const float* xg = X + (n * C + gi * Cg) * IS + j0;
        conv_sgemm(rows, nc, Cg, wg, 1, rows, xg, IS, col.data() + gi * rows * IS + j0, IS, false);
      }
    });
    pool.parallel_for(0, M, 1, [&](int64_t mb, int64_t me) {
      for (int64_t m = mb; m < me; ++m) {
        float* yc = Y + (n * M + m) * OS;
        std::fill(yc, yc + OS, B ? B[m] : 0.f);
        int64_t gi = m / Mg, mm = m % Mg;
        const float* cm = col.data() + (gi * rows + mm * KS) * IS;
        for (int64_t kk = 0; kk < KS; ++kk) {
          const float* cr = cm + kk * IS;
          const int64_t* ir = idx.data() + kk * IS;
          for (int64_t i = 0; i < IS; ++i)
            if (ir[i] >= 0) yc[ir[i]] += cr[i];
        }
      }
    });
  }
  fy.finish(pool);
}

}  // namespace

void register_conv_transpose_kernels(KernelTable& t) { t.add("ConvTranspose", conv_transpose); }
}  // namespace r1::cpu
