// CPU kernels of the conv family: Conv and ConvTranspose (the forward conv itself is in
// conv_gemm.cc / conv_depthwise.cc, shared with r1::FusedConv; pools in conv_pool.cc, Resize in
// conv_resize.cc). 16-bit floats are computed in fp32; precision="bf16" uses bf16 products where it
// applies (conv_bf16*.cc, conv_gemm.cc).
#include <algorithm>
#include <cstring>

#include "r1/cpu/gemm/blas.h"
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
// The residual of r1::FusedConv made the output larger than the conv (the Add broadcast a size-1 conv
// dim against it; conv_fusion cannot always rule that out when spatial dims are unknown): the conv
// goes to scratch and y = act(expand(conv) + expand(residual)). Rare, so correct rather than fast.
void conv_with_enlarging_residual(ConvArgs a, const Shape& conv_shape, const Tensor& r, const float* rp,
                                  const FloatOut& fy, const Shape& ys, ThreadPool& pool) {
  ConvEpilogue ep = a.ep;
  std::vector<float> conv_out(static_cast<size_t>(numel(conv_shape)));
  a.ep.act = ConvAct::kNone;
  a.residual = nullptr;
  a.y = conv_out.data();
  conv_forward_f32(a, pool);
  std::vector<float> res(static_cast<size_t>(numel(ys)));
  broadcast_floats(conv_out.data(), conv_shape, ys, fy.p, pool, "FusedConv output");
  broadcast_floats(rp, r.shape(), ys, res.data(), pool, "FusedConv residual");
  int64_t n = numel(ys);
  epilogue_row_ref(fy.p, n, 0.f, res.data(), ep);
}
}  // namespace

void run_conv(KernelContext& ctx, bool fused) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  const Shape& xs = x.shape();
  Shape in_sp(xs.begin() + 2, xs.end());
  ConvArgs a;
  a.geom = conv_geom::forward(ctx.attrs(), in_sp, conv_kernel_dims(ctx, w.shape()), false);
  if (fused) parse_conv_activation(ctx.attrs(), &a.ep);
  // precision="bf16" (set by the precision pass): bf16 products, fp32 accumulation and epilogue.
  const std::string precision = ctx.attrs().get_string("precision", "fp32");
  R1_CHECK(precision == "fp32" || precision == "bf16", ModelError)
      << ctx.node().label() << ": precision must be 'fp32' or 'bf16', got '" << precision << "'";
  if (y.numel() == 0) return;
  ThreadPool& pool = ctx.pool();
  FloatIn fx = float_input(x, pool);
  FloatIn fw = float_input(w, pool);
  FloatIn fb, fr;
  if (ctx.has_input(2)) fb = float_input(ctx.input(2), pool);
  a.x = fx.p;
  a.w = fw.p;
  a.ep.bias = fb.p;
  a.n = xs[0];
  a.c = xs[1];
  a.m = w.dim(0);
  a.group = ctx.attrs().get_int("group", 1);
  FloatOut fy;
  fy.init(y);
  a.y = fy.p;
  Shape conv_shape = {xs[0], w.dim(0)};
  conv_shape.insert(conv_shape.end(), a.geom.out.begin(), a.geom.out.end());
  std::vector<float> expanded;
  if (fused && ctx.has_input(3)) {
    const Tensor& r = ctx.input(3);
    fr = float_input(r, pool);
    a.residual = fr.p;
    if (conv_shape != y.shape()) {
      conv_with_enlarging_residual(a, conv_shape, r, fr.p, fy, y.shape(), pool);
      fy.finish(pool);
      return;
    }
    if (r.shape() != y.shape()) {
      // A broadcast residual is expanded once: the tile epilogue reads it with Y's layout.
      expanded.resize(static_cast<size_t>(y.numel()));
      broadcast_floats(fr.p, r.shape(), y.shape(), expanded.data(), pool, "FusedConv residual");
      a.residual = expanded.data();
    }
  }
  // Without AVX512-BF16, and for depthwise convs (memory-bound: bf16 products would gain nothing), bf16
  // runs the fp32 path.
  if (precision == "bf16" && conv_bf16_applies(a)) {
    if (winograd_applies(a)) {
      // Winograd in bf16: 2.25x fewer products than im2col, each at the bf16 rate.
      ConvWeightsBf16 ub = conv_weights_bf16(ctx, w, a.w, a.m, a.c, true, pool);
      conv_winograd_bf16(a, ub.p, ub.ld, pool);
    } else {
      ConvWeightsBf16 wb = conv_weights_bf16(ctx, w, a.w, a.m, (a.c / a.group) * numel(a.geom.k), false, pool);
      conv_forward_bf16(a, wb.p, wb.ld, pool);
    }
  } else {
    conv_forward_f32(a, pool);
  }
  fy.finish(pool);
}

namespace {
void conv(KernelContext& ctx) { run_conv(ctx, false); }

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

void register_conv_kernels(KernelTable& t) {
  t.add("Conv", conv);
  t.add("ConvTranspose", conv_transpose);
  register_conv_pool_kernels(t);
  register_conv_resize_kernels(t);
}
}  // namespace r1::cpu
