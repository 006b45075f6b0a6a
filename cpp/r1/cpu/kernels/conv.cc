// CPU kernels of the conv family: Conv and ConvTranspose (pools in conv_pool.cc, Resize in
// conv_resize.cc). Algorithms by shape:
//   1x1 stride-1 unpadded conv: GEMM straight on the input (no im2col);
//   depthwise (one input channel per group), 1-D/2-D: direct loop vectorized over output width;
//   otherwise: im2col of a block of output columns + GEMM, per (batch, group, column block) task.
// 16-bit floats are computed in fp32.
#include <algorithm>
#include <cstring>

#include "r1/cpu/blas.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/ir/ops/conv_util.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {

// ---------------------------------------------------------------- GEMM
namespace {
constexpr int kMR = 4;
constexpr int kNR = 8;
constexpr int64_t kKC = 256;
constexpr int64_t kNC = 512;

inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* __restrict c_out,
                         int64_t ldc, int mr, int nr, bool acc) {
  float c[kMR][kNR];
  for (int r = 0; r < kMR; ++r)
    for (int t = 0; t < kNR; ++t) c[r][t] = 0.f;
  for (int64_t k = 0; k < kc; ++k) {
    const float* a = pa + k * kMR;
    const float* b = pb + k * kNR;
    for (int r = 0; r < kMR; ++r)
      for (int t = 0; t < kNR; ++t) c[r][t] += a[r] * b[t];
  }
  if (mr == kMR && nr == kNR) {
    for (int r = 0; r < kMR; ++r) {
      float* cr = c_out + r * ldc;
      if (acc)
        for (int t = 0; t < kNR; ++t) cr[t] += c[r][t];
      else
        for (int t = 0; t < kNR; ++t) cr[t] = c[r][t];
    }
  } else {
    for (int r = 0; r < mr; ++r) {
      float* cr = c_out + r * ldc;
      for (int t = 0; t < nr; ++t) cr[t] = acc ? cr[t] + c[r][t] : c[r][t];
    }
  }
}
}  // namespace

void conv_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  // The shared BLAS wrapper (OpenBLAS when available) for the layouts it takes.
  if (K > 0 && a_cs == 1 && a_rs >= K) {
    sgemm_serial(false, false, M, N, K, 1.f, A, a_rs, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  if (K > 0 && a_rs == 1 && a_cs >= M) {
    sgemm_serial(true, false, M, N, K, 1.f, A, a_cs, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    return;
  }
  thread_local std::vector<float> pa_buf, pb_buf;
  if (pb_buf.size() < static_cast<size_t>(kKC * kNC)) pb_buf.resize(kKC * kNC);
  if (pa_buf.size() < static_cast<size_t>(kKC * kMR)) pa_buf.resize(kKC * kMR);
  float* pa = pa_buf.data();
  float* pb = pb_buf.data();
  for (int64_t jc = 0; jc < N; jc += kNC) {
    int64_t nc = std::min(kNC, N - jc);
    int64_t npan = (nc + kNR - 1) / kNR;
    for (int64_t kc = 0; kc < K; kc += kKC) {
      int64_t kcl = std::min(kKC, K - kc);
      bool acc = accumulate || kc > 0;
      for (int64_t p = 0; p < npan; ++p) {
        float* dst = pb + p * kcl * kNR;
        int64_t j0 = jc + p * kNR;
        int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
        for (int64_t k = 0; k < kcl; ++k) {
          const float* src = B + (kc + k) * ldb + j0;
          float* d = dst + k * kNR;
          if (nr == kNR) {
            for (int t = 0; t < kNR; ++t) d[t] = src[t];
          } else {
            for (int t = 0; t < kNR; ++t) d[t] = t < nr ? src[t] : 0.f;
          }
        }
      }
      for (int64_t ic = 0; ic < M; ic += kMR) {
        int mr = static_cast<int>(std::min<int64_t>(kMR, M - ic));
        for (int64_t k = 0; k < kcl; ++k)
          for (int r = 0; r < kMR; ++r) pa[k * kMR + r] = r < mr ? A[(ic + r) * a_rs + (kc + k) * a_cs] : 0.f;
        for (int64_t p = 0; p < npan; ++p) {
          int64_t j0 = jc + p * kNR;
          int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
          micro_kernel(kcl, pa, pb + p * kcl * kNR, C + ic * ldc + j0, ldc, mr, nr, acc);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- float staging

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

// ---------------------------------------------------------------- Conv
// One output plane of a depthwise conv (2-D; 1-D runs with H = 1). Cloned for AVX2 so the
// width loop uses 8-wide FMAs where the CPU has them.
struct DwGeom {
  int64_t H, W, KH, KW, OH, OW, sh, sw, dh, dw, ph, pw;
};

__attribute__((target_clones("avx2", "default"))) void depthwise_plane(const float* xc, const float* wk, float bias,
                                                                        float* yp, const DwGeom& q) {
  for (int64_t oh = 0; oh < q.OH; ++oh) {
    float* yr = yp + oh * q.OW;
    for (int64_t ow = 0; ow < q.OW; ++ow) yr[ow] = bias;
    for (int64_t kh = 0; kh < q.KH; ++kh) {
      int64_t ih = oh * q.sh - q.ph + kh * q.dh;
      if (ih < 0 || ih >= q.H) continue;
      const float* xr = xc + ih * q.W;
      for (int64_t kw = 0; kw < q.KW; ++kw) {
        float w = wk[kh * q.KW + kw];
        int64_t off = kw * q.dw - q.pw;
        int64_t lo = std::max<int64_t>(0, conv_geom::ceil_div(-off, q.sw));
        int64_t hi = std::min<int64_t>(q.OW, conv_geom::floor_div(q.W - 1 - off, q.sw) + 1);
        if (q.sw == 1) {
          const float* xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += w * xs[ow];
        } else if (q.sw == 2) {
          const float* xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += w * xs[2 * ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += w * xr[ow * q.sw + off];
        }
      }
    }
  }
}

void conv_depthwise(const float* X, const float* W, const float* B, float* Y, int64_t N, int64_t C, int64_t M,
                    const conv_geom::Geom& g, ThreadPool& pool) {
  bool one_d = g.nd == 1;
  DwGeom q;
  q.H = one_d ? 1 : g.in[0];
  q.W = g.in[g.nd - 1];
  q.KH = one_d ? 1 : g.k[0];
  q.KW = g.k[g.nd - 1];
  q.OH = one_d ? 1 : g.out[0];
  q.OW = g.out[g.nd - 1];
  q.sh = one_d ? 1 : g.s[0];
  q.sw = g.s[g.nd - 1];
  q.dh = one_d ? 1 : g.d[0];
  q.dw = g.d[g.nd - 1];
  q.ph = one_d ? 0 : g.pb[0];
  q.pw = g.pb[g.nd - 1];
  int64_t mult = M / C;
  int64_t planes = N * M;
  int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(q.OH * q.OW * q.KH * q.KW, 1));
  pool.parallel_for(0, planes, grain, [&](int64_t b, int64_t e) {
    for (int64_t pl = b; pl < e; ++pl) {
      int64_t n = pl / M, m = pl % M, c = m / mult;
      depthwise_plane(X + (n * C + c) * q.H * q.W, W + m * q.KH * q.KW, B ? B[m] : 0.f, Y + pl * q.OH * q.OW, q);
    }
  });
}

// im2col of output columns [j0, j0 + nc) of a 2-D conv (1-D as H = 1): rows (c, kh, kw).
void im2col_2d(const float* xg, int64_t Cg, const DwGeom& q, int64_t j0, int64_t nc, float* col) {
  for (int64_t c = 0; c < Cg; ++c) {
    const float* xc = xg + c * q.H * q.W;
    for (int64_t kh = 0; kh < q.KH; ++kh)
      for (int64_t kw = 0; kw < q.KW; ++kw) {
        float* dst = col + ((c * q.KH + kh) * q.KW + kw) * nc;
        int64_t off = kw * q.dw - q.pw;
        int64_t lo = std::max<int64_t>(0, conv_geom::ceil_div(-off, q.sw));
        int64_t hi = std::min<int64_t>(q.OW, conv_geom::floor_div(q.W - 1 - off, q.sw) + 1);
        int64_t j = j0, end = j0 + nc;
        while (j < end) {
          int64_t oh = j / q.OW, ow0 = j % q.OW;
          int64_t ow1 = std::min(q.OW, ow0 + (end - j));
          float* d = dst + (j - j0) - ow0;  // d[ow] is the column of (oh, ow)
          int64_t ih = oh * q.sh - q.ph + kh * q.dh;
          if (ih < 0 || ih >= q.H || lo >= hi) {
            for (int64_t ow = ow0; ow < ow1; ++ow) d[ow] = 0.f;
          } else {
            const float* xr = xc + ih * q.W + off;
            int64_t a = std::max(ow0, lo), b = std::min(ow1, hi);
            for (int64_t ow = ow0; ow < std::min(a, ow1); ++ow) d[ow] = 0.f;
            if (q.sw == 1) {
              if (b > a) std::memcpy(d + a, xr + a, (b - a) * sizeof(float));
            } else {
              for (int64_t ow = a; ow < b; ++ow) d[ow] = xr[ow * q.sw];
            }
            for (int64_t ow = std::max(b, ow0); ow < ow1; ++ow) d[ow] = 0.f;
          }
          j += ow1 - ow0;
        }
      }
  }
}

void conv_f32(const float* X, const float* W, const float* B, float* Y, const Shape& xs, const Shape& ws,
              const conv_geom::Geom& g, int64_t group, ThreadPool& pool) {
  int64_t N = xs[0], C = xs[1], M = ws[0];
  int64_t Cg = C / group, Mg = M / group;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k);
  int nd = g.nd;
  if (N == 0 || M == 0 || OS == 0) return;
  if (Cg == 1 && nd <= 2 && M % C == 0 && group == C) {
    conv_depthwise(X, W, B, Y, N, C, M, g, pool);
    return;
  }
  bool pointwise = true;
  for (int i = 0; i < nd; ++i)
    if (g.k[i] != 1 || g.s[i] != 1 || g.pb[i] != 0 || g.pe[i] != 0) pointwise = false;
  int64_t CgK = Cg * KS;
  DwGeom q2{};
  if (nd <= 2) {
    bool one_d = nd == 1;
    q2 = DwGeom{one_d ? 1 : g.in[0], g.in[nd - 1], one_d ? 1 : g.k[0], g.k[nd - 1], one_d ? 1 : g.out[0],
                g.out[nd - 1], one_d ? 1 : g.s[0], g.s[nd - 1], one_d ? 1 : g.d[0], g.d[nd - 1],
                one_d ? 0 : g.pb[0], g.pb[nd - 1]};
  }
  int64_t CB = column_block(OS, N * group, pointwise ? 1 : CgK, pool.num_threads());
  int64_t nblk = (OS + CB - 1) / CB;
  int64_t tasks = N * group * nblk;
  pool.parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
    thread_local std::vector<float> col;
    thread_local std::vector<int64_t> idx;
    std::vector<int64_t> oc(nd), kc(nd);
    for (int64_t t = tb; t < te; ++t) {
      int64_t n = t / (group * nblk), gi = (t / nblk) % group, blk = t % nblk;
      int64_t j0 = blk * CB, nc = std::min(CB, OS - j0);
      const float* xg = X + (n * C + gi * Cg) * IS;
      float* yg = Y + (n * M + gi * Mg) * OS + j0;
      const float* wg = W + gi * Mg * CgK;
      for (int64_t m = 0; m < Mg; ++m) {
        float bv = B ? B[gi * Mg + m] : 0.f;
        std::fill(yg + m * OS, yg + m * OS + nc, bv);
      }
      if (pointwise) {
        conv_sgemm(Mg, nc, Cg, wg, CgK, 1, xg + j0, IS, yg, OS, true);
        continue;
      }
      if (col.size() < static_cast<size_t>(CgK * nc)) col.resize(CgK * nc);
      if (nd <= 2) {
        im2col_2d(xg, Cg, q2, j0, nc, col.data());
        conv_sgemm(Mg, nc, CgK, wg, CgK, 1, col.data(), nc, yg, OS, true);
        continue;
      }
      if (idx.size() < static_cast<size_t>(KS * nc)) idx.resize(KS * nc);
      // Input offsets of every (kernel tap, output column); -1 where the tap reads padding.
      for (int64_t kk = 0; kk < KS; ++kk) {
        int64_t r = kk;
        for (int d = nd - 1; d >= 0; --d) {
          kc[d] = r % g.k[d];
          r /= g.k[d];
        }
        for (int64_t jj = 0; jj < nc; ++jj) {
          int64_t q = j0 + jj;
          for (int d = nd - 1; d >= 0; --d) {
            oc[d] = q % g.out[d];
            q /= g.out[d];
          }
          int64_t off = 0;
          bool ok = true;
          for (int d = 0; d < nd; ++d) {
            int64_t p = oc[d] * g.s[d] - g.pb[d] + kc[d] * g.d[d];
            if (p < 0 || p >= g.in[d]) {
              ok = false;
              break;
            }
            off = off * g.in[d] + p;
          }
          idx[kk * nc + jj] = ok ? off : -1;
        }
      }
      for (int64_t c = 0; c < Cg; ++c) {
        const float* xc = xg + c * IS;
        for (int64_t kk = 0; kk < KS; ++kk) {
          float* cr = col.data() + (c * KS + kk) * nc;
          const int64_t* ir = idx.data() + kk * nc;
          for (int64_t jj = 0; jj < nc; ++jj) cr[jj] = ir[jj] >= 0 ? xc[ir[jj]] : 0.f;
        }
      }
      conv_sgemm(Mg, nc, CgK, wg, CgK, 1, col.data(), nc, yg, OS, true);
    }
  });
}

std::vector<int64_t> kernel_dims(const KernelContext& ctx, const Shape& ws) {
  std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(ws.begin() + 2, ws.end());
  for (size_t i = 0; i < k.size(); ++i)
    R1_CHECK(k[i] == ws[2 + i], InputError) << "kernel_shape does not match the weight shape";
  return k;
}

void conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  int64_t group = ctx.attrs().get_int("group", 1);
  const Shape& xs = x.shape();
  Shape in_sp(xs.begin() + 2, xs.end());
  conv_geom::Geom g = conv_geom::forward(ctx.attrs(), in_sp, kernel_dims(ctx, w.shape()), false);
  if (y.numel() == 0) return;
  FloatIn fx = float_input(x, ctx.pool());
  FloatIn fw = float_input(w, ctx.pool());
  FloatIn fb;
  if (ctx.has_input(2)) fb = float_input(ctx.input(2), ctx.pool());
  FloatOut fy;
  fy.init(y);
  conv_f32(fx.p, fw.p, fb.p, fy.p, xs, w.shape(), g, group, ctx.pool());
  fy.finish(ctx.pool());
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
  conv_geom::Geom g = conv_geom::transpose(ctx.attrs(), in_sp, kernel_dims(ctx, ws));
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

void register_conv_kernels(KernelTable& t) {
  t.add("Conv", conv);
  t.add("ConvTranspose", conv_transpose);
  register_conv_pool_kernels(t);
  register_conv_resize_kernels(t);
}
}  // namespace r1::cpu
