// CPU kernel of r1::Attention: O = softmax(scale * Q Kᵀ + mask) V (contract: cpp/r1/passes/README.md).
// Parallel over (batch, head, query block). Each task walks the key blocks: S = Q_blk K_blkᵀ into an
// L1/L2-sized tile, scale + mask + causal limit + online softmax (running max and sum, the output
// rescaled when the max grows), O += P V_blk. The [Sq, Sk] score matrix never exists, so memory
// stays O(block) at any sequence length. Block sizes come from cpu_tiles().
// precision=bf16 with AVX512-BF16: both products take bf16 operands with fp32 accumulation
// (_mm512_dpbf16_ps); the softmax stays fp32. Elsewhere bf16 falls back to fp32.
// fp16/bf16 tensors are staged through fp32. Q, K, V and O are addressed by per-head offsets and row
// strides, so the [B, S, H, D] layouts (qkv_layout / out_layout = "bshd") are read and written in place,
// without the Transposes exporters put around attention.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/core/hw_profile.h"
#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/elementwise_math.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {

// attention_avx512.cc / act_avx512.cc
void attn_softmax_step_avx512(float* S, int64_t lds, int64_t rows, int64_t n, float scale, const float* mask,
                              int64_t mask_rs, int64_t mask_cs, int64_t limit0, float* m, float* l, float* corr,
                              uint16_t* p16, int64_t ld16);
void attn_gemm_f32_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
                          float* C, int64_t ldc, const float* row_scale, bool accumulate);
void attn_gemm_bf16_avx512(int64_t m, int64_t n, int64_t k2, const int32_t* A, int64_t lda, const int32_t* B,
                           int64_t ldb, float* C, int64_t ldc, const float* row_scale, bool accumulate);
void attn_transpose32_avx512(const void* src, int64_t lds, int64_t rows, int64_t cols, void* dst, int64_t ldd);
void attn_to_bf16_rows_avx512(const float* src, int64_t lds, int64_t rows, int64_t cols, uint16_t* dst, int64_t ldd);
void attn_pack_pairs_bf16_avx512(const float* src, int64_t lds, int64_t rows, int64_t cols, int32_t* dst, int64_t ldd);

namespace {

// ---- Portable block primitives (same contracts as the AVX-512 ones).
void gemm_portable(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                   int64_t ldc, const float* rs, bool acc) {
  if (acc && rs)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) C[i * ldc + j] *= rs[i];
  sgemm_serial(false, false, m, n, k, 1.0f, A, lda, B, ldb, acc ? 1.0f : 0.0f, C, ldc);
}

void softmax_step_portable(float* S, int64_t lds, int64_t rows, int64_t n, float scale, const float* mask,
                           int64_t mask_rs, int64_t mask_cs, int64_t limit0, float* m, float* l, float* corr,
                           uint16_t* /*p16: bf16 runs only with AVX-512*/, int64_t) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    float* s = S + r * lds;
    const int64_t valid = std::min(n, std::max<int64_t>(0, limit0 + r));
    const float* mr = mask ? mask + r * mask_rs : nullptr;
    float bmax = ninf;
    for (int64_t j = 0; j < valid; ++j) {
      s[j] = s[j] * scale + (mr ? mr[j * mask_cs] : 0.0f);
      bmax = s[j] > bmax ? s[j] : bmax;
    }
    const float m_new = std::max(bmax, m[r]);
    if (m_new == ninf) {  // nothing finite yet: see attn_softmax_step_avx512
      std::fill(s, s + n, 0.0f);
      corr[r] = 1.0f;
      continue;
    }
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      s[j] = j < valid ? ew::vexp(s[j] - m_new) : 0.0f;
      sum += s[j];
    }
    corr[r] = ew::vexp(m[r] - m_new);
    l[r] = l[r] * corr[r] + sum;
    m[r] = m_new;
  }
}

void transpose_portable(const void* src, int64_t lds, int64_t rows, int64_t cols, void* dst, int64_t ldd) {
  const float* s = static_cast<const float*>(src);
  float* d = static_cast<float*>(dst);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) d[c * ldd + r] = s[r * lds + c];
}

struct Prims {
  decltype(&gemm_portable) gemm;
  decltype(&softmax_step_portable) softmax_step;
  decltype(&transpose_portable) transpose;
};

// Where head (b, h) and its rows live in one operand. `bhsd` is [B', H', rows, cols] (rows contiguous);
// `bshd` is [B', rows, H', cols], the projection's own layout, read in place: the heads interleave,
// so a row of one head is `cols` elements every H' * cols. B'/H' may be 1 (broadcast: stride 0).
struct HeadIndex {
  int64_t sb = 0, sh = 0, rs = 0;  // batch, head and row strides in elements
  HeadIndex(const Shape& s, bool bshd) {
    const int64_t nb = s[0], nh = bshd ? s[2] : s[1], rows = bshd ? s[1] : s[2], cols = s[3];
    sb = nb == 1 ? 0 : nh * rows * cols;
    sh = nh == 1 ? 0 : (bshd ? cols : rows * cols);
    rs = bshd ? nh * cols : cols;
  }
  int64_t at(int64_t b, int64_t h) const { return b * sb + h * sh; }
};

struct Problem {
  int64_t B, H, Sq, Sk, D, Dv, bq, bk;
  const float *q, *k, *v, *mask;
  HeadIndex qi, ki, vi, oi;
  int64_t m_sb = 0, m_sh = 0, m_rs = 0, m_cs = 0;  // mask strides over [B, H, Sq, Sk] (0: broadcast)
  bool k_transposed = false, causal = false, bf16 = false, nan_to_zero = false;
  float scale = 1.f;
  float* o = nullptr;
  // With a mask: per (mask batch, mask head, mask row), 1 + the last key the mask leaves open (0: none), so
  // keys past every open one are not computed (a causal mask built in the graph, right padding).
  std::vector<int64_t> open_end;
  int64_t oe_sb = 0, oe_sh = 0, oe_rs = 0;
};

// Scores whose mask is at most this contribute exp(score - max) = 0 next to any open key: skipped when the row
// has one. Covers -inf and the lowest float (the exporters' masks); NaN is never masked.
constexpr float kMaskedBelow = -1e30f;

// P.open_end from the mask: one scan from the last key down per distinct mask row.
void find_open_ends(Problem& P, ThreadPool& pool) {
  const int64_t nb = P.m_sb ? P.B : 1, nh = P.m_sh ? P.H : 1, nr = P.m_rs ? P.Sq : 1;
  P.oe_rs = P.m_rs ? 1 : 0;
  P.oe_sh = P.m_sh ? nr : 0;
  P.oe_sb = P.m_sb ? nh * nr : 0;
  P.open_end.resize(static_cast<size_t>(nb * nh * nr));
  pool.parallel_for(0, nb * nh * nr, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / (nh * nr), h = i / nr % nh, r = i % nr;
      const float* row = P.mask + b * P.m_sb + h * P.m_sh + r * P.m_rs;
      int64_t j = P.Sk;
      while (j > 0 && row[(j - 1) * P.m_cs] <= kMaskedBelow) --j;
      P.open_end[i] = j;
    }
  });
}

// Per-thread tiles, allocated once per chunk of tasks. A task is a group of up to G query blocks of
// one head: each key block is packed (K transposed, bf16 pairs of K and V) once for the group.
struct Scratch {
  std::vector<float> s, kt, m, l, corr;
  std::vector<uint16_t> q16, k16, p16;
  std::vector<int32_t> kp, vp;
  Scratch(const Problem& P, int64_t G) : s(P.bq * P.bk), m(G * P.bq), l(G * P.bq), corr(P.bq) {
    const int64_t dp = (P.D + 1) & ~int64_t{1};
    if (P.bf16) {
      q16.resize(G * P.bq * dp);
      k16.resize(P.bk * dp);
      p16.resize(P.bq * P.bk);
      kp.resize(dp / 2 * P.bk);
      vp.resize(P.bk / 2 * P.Dv);
    } else if (!P.k_transposed) {
      kt.resize(P.D * P.bk);
    }
  }
};

// Query blocks [qb0, qb1) of head (b, h): rows [qb0 * bq, min(Sq, qb1 * bq)) of O.
void run_group(const Problem& P, const Prims& f, int64_t b, int64_t h, int64_t qb0, int64_t qb1, Scratch& w) {
  const int64_t g0 = qb0 * P.bq, g1 = std::min(P.Sq, qb1 * P.bq);
  const int64_t off = P.Sk - P.Sq;  // causal: query i sees keys j <= i + off
  auto key_end = [&](int64_t row_end) { return P.causal ? std::clamp<int64_t>(row_end + off, 0, P.Sk) : P.Sk; };
  const float* qh = P.q + P.qi.at(b, h);
  const float* kh = P.k + P.ki.at(b, h);
  const float* vh = P.v + P.vi.at(b, h);
  float* oh = P.o + P.oi.at(b, h);
  const int64_t qrs = P.qi.rs, krs = P.ki.rs, vrs = P.vi.rs, ors = P.oi.rs;
  const float* mask = P.mask ? P.mask + b * P.m_sb + h * P.m_sh : nullptr;
  // The keys a query block computes: up to the causal limit and the block's last open key, unless one of its
  // rows has no open key at all (that row's softmax is the unfused one's over every key).
  const int64_t* open = P.mask ? P.open_end.data() + (b * P.oe_sb + h * P.oe_sh) : nullptr;
  auto block_end = [&](int64_t i0, int64_t mq) {
    int64_t end = key_end(i0 + mq);
    if (!open) return end;
    int64_t last = 0, first = P.Sk;
    for (int64_t r = i0; r < i0 + mq; ++r) {
      last = std::max(last, open[r * P.oe_rs]);
      first = std::min(first, open[r * P.oe_rs]);
    }
    return first > 0 ? std::min(end, last) : end;
  };
  const int64_t dp = (P.D + 1) & ~int64_t{1};
  std::fill(w.m.begin(), w.m.begin() + (g1 - g0), -std::numeric_limits<float>::infinity());
  std::fill(w.l.begin(), w.l.begin() + (g1 - g0), 0.0f);
  if (P.bf16) attn_to_bf16_rows_avx512(qh + g0 * qrs, qrs, g1 - g0, P.D, w.q16.data(), dp);
  int64_t kend_all = 0;
  for (int64_t i0 = g0; i0 < g1; i0 += P.bq) kend_all = std::max(kend_all, block_end(i0, std::min(P.bq, g1 - i0)));
  for (int64_t j0 = 0; j0 < kend_all; j0 += P.bk) {
    const int64_t nb = std::min(P.bk, kend_all - j0);
    // Pack this key block once for every query block of the group.
    const float* kblk = P.k_transposed ? kh + j0 : w.kt.data();
    int64_t ldk = P.k_transposed ? krs : P.bk;
    if (P.bf16) {
      if (P.k_transposed) {
        attn_pack_pairs_bf16_avx512(kh + j0, krs, P.D, nb, w.kp.data(), P.bk);
      } else {
        attn_to_bf16_rows_avx512(kh + j0 * krs, krs, nb, P.D, w.k16.data(), dp);
        attn_transpose32_avx512(w.k16.data(), dp / 2, nb, dp / 2, w.kp.data(), P.bk);
      }
      attn_pack_pairs_bf16_avx512(vh + j0 * vrs, vrs, nb, P.Dv, w.vp.data(), P.Dv);
    } else if (!P.k_transposed) {
      f.transpose(kh + j0 * krs, krs, nb, P.D, w.kt.data(), P.bk);
    }
    for (int64_t i0 = g0; i0 < g1; i0 += P.bq) {
      const int64_t mq = std::min(P.bq, g1 - i0), r0 = i0 - g0;
      const int64_t kend = block_end(i0, mq);
      if (j0 >= kend) continue;  // causal (or masked): this key block is wholly past this query block's keys
      const int64_t nbq = std::min(nb, kend - j0);
      const float* q = qh + i0 * qrs;
      float* o = oh + i0 * ors;
      float* S = w.s.data();
      const float* mblk = mask ? mask + i0 * P.m_rs + j0 * P.m_cs : nullptr;
      const int64_t limit0 = P.causal ? i0 + off - j0 + 1 : nbq;
      float *m = w.m.data() + r0, *l = w.l.data() + r0, *corr = w.corr.data();
      if (P.bf16) {
        const int32_t* qw = reinterpret_cast<const int32_t*>(w.q16.data() + r0 * dp);
        attn_gemm_bf16_avx512(mq, nbq, dp / 2, qw, dp / 2, w.kp.data(), P.bk, S, P.bk, nullptr, false);
        attn_softmax_step_avx512(S, P.bk, mq, nbq, P.scale, mblk, P.m_rs, P.m_cs, limit0, m, l, corr, w.p16.data(),
                                 P.bk);
        attn_gemm_bf16_avx512(mq, P.Dv, (nbq + 1) / 2, reinterpret_cast<const int32_t*>(w.p16.data()), P.bk / 2,
                              w.vp.data(), P.Dv, o, ors, corr, j0 > 0);
      } else {
        f.gemm(mq, nbq, P.D, q, qrs, kblk, ldk, S, P.bk, nullptr, false);
        f.softmax_step(S, P.bk, mq, nbq, P.scale, mblk, P.m_rs, P.m_cs, limit0, m, l, corr, nullptr, 0);
        f.gemm(mq, P.Dv, nbq, S, P.bk, vh + j0 * vrs, vrs, o, ors, corr, j0 > 0);
      }
    }
  }
  // Normalise. A row with no finite score has l = 0 and ends as 0 * inf = NaN, like the unfused
  // softmax of an all -inf row; a query block that saw no key at all is first set to 0.
  for (int64_t i0 = g0; i0 < g1; i0 += P.bq) {
    const int64_t mq = std::min(P.bq, g1 - i0);
    if (key_end(i0 + mq) == 0)
      for (int64_t r = i0; r < i0 + mq; ++r) std::fill(oh + r * ors, oh + r * ors + P.Dv, 0.0f);
  }
  for (int64_t r = g0; r < g1; ++r) {
    const float inv = 1.0f / w.l[r - g0];
    float* orow = oh + r * ors;
    for (int64_t c = 0; c < P.Dv; ++c) orow[c] *= inv;
    if (P.nan_to_zero)
      for (int64_t c = 0; c < P.Dv; ++c) orow[c] = std::isnan(orow[c]) ? 0.0f : orow[c];
  }
}

void attention_kernel(KernelContext& ctx) {
  const Tensor& tq = ctx.input(0);
  const Tensor& tk = ctx.input(1);
  const Tensor& tv = ctx.input(2);
  const bool kt = ctx.attrs().get_int("k_transposed", 0) != 0;
  // "bshd": Q, K, V (and/or O) are [B, S, H, D]; the schema rejects bshd with k_transposed.
  const bool in_bshd = ctx.attrs().get_string("qkv_layout", "bhsd") == "bshd";
  const bool out_bshd = ctx.attrs().get_string("out_layout", "bhsd") == "bshd";
  const Shape &qs = tq.shape(), &ks = tk.shape(), &vs = tv.shape();
  Tensor& out = ctx.output(0);
  const Shape& os = out.shape();
  const int sa = in_bshd ? 1 : 2;  // the sequence axis of Q, K, V
  const int64_t D = qs[3], Sk = kt ? ks[3] : ks[sa];
  R1_CHECK((kt ? ks[2] : ks[3]) == D && vs[sa] == Sk, InputError)
      << "Attention: Q " << shape_str(qs) << ", K " << shape_str(ks) << " and V " << shape_str(vs) << " do not agree";
  if (out.numel() == 0) return;
  if (Sk == 0) {  // softmax over no keys times an empty V: the unfused graph gives zeros
    FloatOut fo;
    fo.init(out);
    std::fill(fo.p, fo.p + out.numel(), 0.0f);
    fo.finish(ctx.pool());
    return;
  }
  const CpuFeatures& cf = cpu_features();
  const bool avx512 = cf.has_avx512_kernels();
  const CpuTileParams& tiles = cpu_tiles();
  FloatIn q = float_input(tq, ctx.pool()), k = float_input(tk, ctx.pool()), v = float_input(tv, ctx.pool());
  FloatIn mk;
  Problem P{os[0],
            os[out_bshd ? 2 : 1],
            qs[sa],
            Sk,
            D,
            vs[3],
            0,
            0,
            q.p,
            k.p,
            v.p,
            nullptr,
            HeadIndex(qs, in_bshd),
            HeadIndex(ks, in_bshd),
            HeadIndex(vs, in_bshd),
            HeadIndex(os, out_bshd)};
  P.bq = std::max(1, tiles.attn_block_q);
  P.bk = std::max(2, (tiles.attn_block_k + 1) & ~1);  // even: bf16 pairs never straddle blocks
  P.k_transposed = kt;
  P.causal = ctx.attrs().get_int("causal", 0) != 0;
  P.nan_to_zero = ctx.attrs().get_int("nan_to_zero", 0) != 0;
  P.bf16 = ctx.attrs().get_string("precision", "fp32") == "bf16" && avx512 && cf.avx512_bf16;
  P.scale = ctx.attrs().has("scale")
                ? ctx.attrs().get_float("scale", 1.0f)
                : static_cast<float>(1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(D, 1))));
  if (ctx.has_input(3)) {
    const Tensor& tm = ctx.input(3);
    Shape ms = tm.shape();
    R1_CHECK(ms.size() <= 4, InputError) << "Attention: mask of rank " << ms.size() << " (at most 4)";
    ms.insert(ms.begin(), 4 - ms.size(), 1);
    const int64_t full[4] = {P.B, P.H, P.Sq, P.Sk};
    std::vector<int64_t> st = contiguous_strides(ms);
    for (int i = 0; i < 4; ++i)
      R1_CHECK(ms[i] == 1 || ms[i] == full[i], InputError)
          << "Attention: mask of shape " << shape_str(tm.shape()) << " does not broadcast to the scores "
          << shape_str(Shape(full, full + 4));
    if (tm.numel() == 0) R1_THROW(InputError) << "Attention: empty mask";
    mk = float_input(tm, ctx.pool());
    P.mask = mk.p;
    P.m_sb = ms[0] == 1 ? 0 : st[0];
    P.m_sh = ms[1] == 1 ? 0 : st[1];
    P.m_rs = ms[2] == 1 ? 0 : st[2];
    P.m_cs = ms[3] == 1 ? 0 : 1;
    find_open_ends(P, ctx.pool());
  }
  FloatOut fo;
  fo.init(out);
  P.o = fo.p;
  const Prims f = avx512 ? Prims{attn_gemm_f32_avx512, attn_softmax_step_avx512, attn_transpose32_avx512}
                         : Prims{gemm_portable, softmax_step_portable, transpose_portable};
  // Tasks: groups of G query blocks of one head. Bigger groups pack each key block fewer times;
  // about four tasks per thread keep the threads balanced.
  const int64_t nqb = (P.Sq + P.bq - 1) / P.bq, heads = P.B * P.H;
  const int64_t G = std::clamp<int64_t>(heads * nqb / (4 * ctx.pool().num_threads()), 1, nqb);
  const int64_t ngroups = (nqb + G - 1) / G;
  // A product too small to pay for waking a worker (a decode step: one query per head) runs on this thread:
  // the same threshold of multiply-adds as the GEMMs'.
  const bool small = heads * P.Sq * P.Sk * (P.D + P.Dv) < kGemmParallelWork;
  ctx.pool().parallel_for(0, heads * ngroups, small ? std::max<int64_t>(1, heads * ngroups) : 1,
                          [&](int64_t t0, int64_t t1) {
                            Scratch w(P, G);
                            for (int64_t t = t0; t < t1; ++t) {
                              // Causal: the last query blocks see the most keys; running them first balances the
                              // threads. Otherwise consecutive tasks share a head, so its K and V stay in cache.
                              const int64_t bh = P.causal ? t % heads : t / ngroups;
                              const int64_t g = P.causal ? ngroups - 1 - t / heads : t % ngroups;
                              run_group(P, f, bh / P.H, bh % P.H, g * G, std::min(nqb, (g + 1) * G), w);
                            }
                          });
  fo.finish(ctx.pool());
}

}  // namespace

void register_attention_kernels(KernelTable& t) { t.add("Attention", attention_kernel, "r1"); }
}  // namespace r1::cpu
