// The forward convolution driver shared by Conv and r1::FusedConv (fp32, NCHW in and out).
// Algorithm by shape:
//   depthwise (one input channel per group, 1-D/2-D): conv_depthwise.cc, vectorised over output width;
//   1x1, stride 1, unpadded: a direct GEMM reading the input as the B matrix (no im2col);
//   otherwise: im2col of one (K block x column block) tile at a time, so it stays in L2, then GEMM.
// Output = W[M, Cg*KS] x B[Cg*KS, OH*OW] per image and group: rows are output channels, so NCHW tiles
// come out of the GEMM directly and the epilogue (bias, residual, activation) runs on each tile before
// its only store (conv_gemm_avx512.cc); CPUs without AVX-512 use OpenBLAS and a separate pass per tile.
// precision="bf16" (conv_forward_bf16) runs the same tiling with bf16 operands packed per tile and the
// AVX512-BF16 tiles of conv_bf16_avx512.cc.
#include <algorithm>
#include <cstring>

#include "r1/core/cpu_features.h"
#include "r1/cpu/gemm/conv_sgemm.h"
#include "r1/cpu/kernels/conv_kernels.h"

namespace r1::cpu {
namespace {

int64_t prod(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Largest K slice per GEMM pass: an 8-row slice of W (16 KB) stays in L1 beside the streaming B tile.
constexpr int64_t kMaxKc = 512;
// Floats in one B tile (K slice x columns): 256 KB, half of a typical per-core L2.
constexpr int64_t kTileFloats = 64 * 1024;
// Multiply-adds below which a task is not worth handing to another thread.
constexpr int64_t kMinTaskMacs = 1 << 19;

Plane2d plane_of(const conv_geom::Geom& g) {
  bool one_d = g.nd == 1;
  int last = g.nd - 1;
  return Plane2d{one_d ? 1 : g.in[0], g.in[last], one_d ? 1 : g.k[0], g.k[last], one_d ? 1 : g.out[0], g.out[last],
                 one_d ? 1 : g.s[0],  g.s[last],  one_d ? 1 : g.d[0], g.d[last], one_d ? 0 : g.pb[0],  g.pb[last]};
}

void gather(const float* src, int64_t stride, int64_t n, float* dst, bool avx) {
  if (avx) {
    conv_avx512::gather_row(src, stride, n, dst);
  } else if (stride == 1) {
    std::memcpy(dst, src, n * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
  }
}

// im2col rows [k0, k1) (row k = (c, kh, kw)) of output columns [j0, j0 + nc) into dst (row stride ldd).
void im2col_tile_2d(const float* xg, const Plane2d& q, int64_t k0, int64_t k1, int64_t j0, int64_t nc, float* dst,
                    int64_t ldd, bool avx) {
  int64_t ks = q.KH * q.KW;
  for (int64_t k = k0; k < k1; ++k) {
    int64_t c = k / ks, kh = (k % ks) / q.KW, kw = k % q.KW;
    const float* xc = xg + c * q.H * q.W;
    float* d = dst + (k - k0) * ldd;
    int64_t off = kw * q.dw - q.pw;
    // Output columns whose tap lands inside the row: [lo, hi).
    int64_t lo = std::max<int64_t>(0, conv_geom::ceil_div(-off, q.sw));
    int64_t hi = std::min<int64_t>(q.OW, conv_geom::floor_div(q.W - 1 - off, q.sw) + 1);
    for (int64_t j = j0, end = j0 + nc; j < end;) {
      int64_t oh = j / q.OW, ow0 = j % q.OW;
      int64_t ow1 = std::min(q.OW, ow0 + (end - j));
      float* dd = d + (j - j0) - ow0;  // dd[ow] is the column of (oh, ow)
      int64_t ih = oh * q.sh - q.ph + kh * q.dh;
      if (ih < 0 || ih >= q.H || lo >= hi) {
        std::fill(dd + ow0, dd + ow1, 0.f);
      } else {
        int64_t a = std::min(std::max(lo, ow0), ow1), b = std::max(std::min(hi, ow1), a);
        std::fill(dd + ow0, dd + a, 0.f);
        if (b > a) gather(xc + ih * q.W + a * q.sw + off, q.sw, b - a, dd + a, avx);
        std::fill(dd + b, dd + ow1, 0.f);
      }
      j += ow1 - ow0;
    }
  }
}

// Input offsets of every (kernel tap, output column) of columns [j0, j0 + nc); -1 reads padding.
void tap_offsets_nd(const conv_geom::Geom& g, int64_t j0, int64_t nc, int64_t* idx) {
  int nd = g.nd;
  int64_t ks = prod(g.k);
  std::vector<int64_t> oc(nd), kc(nd);
  for (int64_t kk = 0; kk < ks; ++kk) {
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
      for (int d = 0; d < nd && ok; ++d) {
        int64_t p = oc[d] * g.s[d] - g.pb[d] + kc[d] * g.d[d];
        ok = p >= 0 && p < g.in[d];
        off = off * g.in[d] + p;
      }
      idx[kk * nc + jj] = ok ? off : -1;
    }
  }
}

struct GemmPlan {
  int64_t kc = 0;                // K slice per pass
  int64_t nc = 0, n_blocks = 0;  // output columns per task
  int64_t mb = 0, m_blocks = 0;  // output channels per task
};

// max_kc / tile_elems: the K slice and B tile bounds (elements); even_kc: K slices of whole bf16 pairs.
GemmPlan plan_gemm(int64_t outer, int64_t Mg, int64_t K, int64_t OS, int threads, int64_t max_kc = kMaxKc,
                   int64_t tile_elems = kTileFloats, bool even_kc = false) {
  GemmPlan p;
  int64_t kb = (K + max_kc - 1) / max_kc;
  p.kc = (K + kb - 1) / kb;
  if (even_kc) p.kc += p.kc % 2;
  int64_t nc_cap = std::max<int64_t>(32, tile_elems / p.kc / 32 * 32);
  p.n_blocks = (OS + nc_cap - 1) / nc_cap;
  p.m_blocks = 1;
  int64_t macs = outer * Mg * K * OS;
  int64_t want = threads <= 1 ? 1 : std::min<int64_t>(4 * threads, std::max<int64_t>(1, macs / kMinTaskMacs));
  if (outer * p.n_blocks < want) {
    // More, narrower column blocks first (each keeps every output channel: B is built once), then
    // split the channels when the columns run out (late layers: 7x7 outputs, many channels).
    p.n_blocks = std::min((want + outer - 1) / outer, std::max<int64_t>(1, OS / 64));
    p.n_blocks = std::max(p.n_blocks, (OS + nc_cap - 1) / nc_cap);
    int64_t have = outer * p.n_blocks;
    if (have < want) p.m_blocks = std::min((want + have - 1) / have, (Mg + 31) / 32);
  }
  int64_t nc = (OS + p.n_blocks - 1) / p.n_blocks;
  p.nc = nc < OS ? (nc + 15) / 16 * 16 : nc;
  p.n_blocks = (OS + p.nc - 1) / p.nc;
  p.m_blocks = std::max<int64_t>(1, p.m_blocks);
  p.mb = (Mg + p.m_blocks - 1) / p.m_blocks;
  p.mb = p.mb < Mg ? (p.mb + 7) / 8 * 8 : p.mb;
  p.m_blocks = (Mg + p.mb - 1) / p.mb;
  return p;
}

// Small outputs (7x7 maps, 1x1 squeeze-excite maps): W x B computed as dot products along K from the
// transposed im2col matrix Bt[OS][K], built once per image and group (at most kIpMaxCols x K floats).
constexpr int64_t kIpMaxCols = 128;

bool use_inner_product(int64_t OS, int64_t K) {
  int64_t padded = (OS + 15) / 16 * 16;  // columns the row-vectorised tile computes
  return OS <= kIpMaxCols && K >= 64 && OS * 10 < padded * 9;
}

void conv_gemm_ip(const ConvArgs& a, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  int64_t G = a.group, Cg = a.c / G, Mg = a.m / G;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k), K = Cg * KS;
  // Input offset of every (tap, output column); -1 reads padding.
  std::vector<int64_t> idx(static_cast<size_t>(KS * OS));
  tap_offsets_nd(g, 0, OS, idx.data());
  // Row stride not a power of two: Bt rows 2^n floats apart would share L1 sets.
  int64_t ldbt = (K + 15) / 16 * 16 + 16;
  thread_local std::vector<float> bt;  // kept: up to ~1 MB, its page faults would cost more than the build
  if (bt.size() < static_cast<size_t>(OS * ldbt)) bt.resize(static_cast<size_t>(OS * ldbt));
  float* Bt = bt.data();
  int threads = pool.num_threads();
  // Row tasks in multiples of the 6-row micro tile, about 4 per thread.
  int64_t rows_per_task = threads == 1 ? Mg : std::max<int64_t>(6, (Mg + 4 * threads - 1) / (4 * threads) + 5) / 6 * 6;
  int64_t tasks = (Mg + rows_per_task - 1) / rows_per_task;
  for (int64_t img = 0; img < a.n; ++img)
    for (int64_t gi = 0; gi < G; ++gi) {
      const float* xg = a.x + (img * a.c + gi * Cg) * IS;
      // Bt column by column: the reads run along input rows and the OS rows written stay in L1.
      // Tasks own 16-column (64-byte) stripes of Bt, so no two threads write one cache line.
      int64_t stripes = (K + 15) / 16;
      pool.parallel_for(0, stripes, std::max<int64_t>(1, 1024 / std::max<int64_t>(OS, 1)), [&](int64_t sb, int64_t se) {
        for (int64_t k = sb * 16, ke = std::min(K, se * 16); k < ke; ++k) {
          const float* xc = xg + (k / KS) * IS;
          const int64_t* ir = idx.data() + (k % KS) * OS;
          for (int64_t j = 0; j < OS; ++j) Bt[j * ldbt + k] = ir[j] >= 0 ? xc[ir[j]] : 0.f;
        }
      });
      pool.parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
        for (int64_t t = tb; t < te; ++t) {
          int64_t m0 = t * rows_per_task, mr = std::min(rows_per_task, Mg - m0), ch = gi * Mg + m0;
          float* yg = a.y + (img * a.m + ch) * OS;
          const float* rg = a.residual ? a.residual + (img * a.m + ch) * OS : nullptr;
          conv_avx512::gemm_tile_ip(mr, OS, K, a.w + ch * K, K, Bt, ldbt, yg, OS, false, &a.ep,
                                    a.ep.bias ? a.ep.bias + ch : nullptr, rg, OS);
        }
      });
    }
}

void conv_gemm(const ConvArgs& a, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  const bool avx = cpu_features().has_avx512_kernels();
  int64_t G = a.group, Cg = a.c / G, Mg = a.m / G;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k), K = Cg * KS;
  bool direct = true;  // 1x1, stride 1, no padding: the input is the B matrix as it is
  for (int i = 0; i < g.nd; ++i)
    if (g.k[i] != 1 || g.s[i] != 1 || g.pb[i] != 0 || g.pe[i] != 0) direct = false;
  Plane2d q = g.nd <= 2 ? plane_of(g) : Plane2d{};
  GemmPlan p = plan_gemm(a.n * G, Mg, K, OS, pool.num_threads());
  int64_t tasks = a.n * G * p.n_blocks * p.m_blocks;
  const ConvEpilogue& ep = a.ep;
  pool.parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
    // Per-thread scratch, kept between calls: a fresh 256 KB buffer per task costs its page faults.
    thread_local std::vector<float> tile;
    thread_local std::vector<int64_t> idx;
    int64_t ldt_max = (p.nc + 15) / 16 * 16;
    if (!direct && tile.size() < static_cast<size_t>(p.kc * ldt_max)) tile.resize(static_cast<size_t>(p.kc * ldt_max));
    if (!direct && g.nd > 2 && idx.size() < static_cast<size_t>(KS * p.nc)) idx.resize(static_cast<size_t>(KS * p.nc));
    for (int64_t t = tb; t < te; ++t) {
      int64_t mbi = t % p.m_blocks, nbi = (t / p.m_blocks) % p.n_blocks, gi = (t / (p.m_blocks * p.n_blocks)) % G;
      int64_t img = t / (p.m_blocks * p.n_blocks * G);
      int64_t j0 = nbi * p.nc, nc = std::min(p.nc, OS - j0);
      int64_t m0 = mbi * p.mb, mr = std::min(p.mb, Mg - m0);
      int64_t ch = gi * Mg + m0;  // first output channel of the task
      const float* xg = a.x + (img * a.c + gi * Cg) * IS;
      const float* wg = a.w + ch * K;
      float* yg = a.y + (img * a.m + ch) * OS + j0;
      const float* rg = a.residual ? a.residual + (img * a.m + ch) * OS + j0 : nullptr;
      const float* bias = ep.bias ? ep.bias + ch : nullptr;
      int64_t ldt = (nc + 15) / 16 * 16;
      if (!direct && g.nd > 2) tap_offsets_nd(g, j0, nc, idx.data());
      for (int64_t k0 = 0; k0 < K; k0 += p.kc) {
        int64_t kcl = std::min(p.kc, K - k0);
        const float* B = xg + k0 * IS + j0;
        int64_t ldb = IS;
        if (!direct) {
          B = tile.data();
          ldb = ldt;
          if (g.nd <= 2) {
            im2col_tile_2d(xg, q, k0, k0 + kcl, j0, nc, tile.data(), ldt, avx);
          } else {
            for (int64_t k = k0; k < k0 + kcl; ++k) {
              const float* xc = xg + (k / KS) * IS;
              const int64_t* ir = idx.data() + (k % KS) * nc;
              float* d = tile.data() + (k - k0) * ldt;
              for (int64_t jj = 0; jj < nc; ++jj) d[jj] = ir[jj] >= 0 ? xc[ir[jj]] : 0.f;
            }
          }
        }
        bool last = k0 + kcl >= K;
        if (avx) {
          conv_avx512::gemm_tile(mr, nc, kcl, wg + k0, K, B, ldb, yg, OS, k0 > 0, last ? &ep : nullptr, bias, rg, OS);
        } else {
          conv_sgemm(mr, nc, kcl, wg + k0, K, 1, B, ldb, yg, OS, k0 > 0);
          if (last)
            for (int64_t i = 0; i < mr; ++i)
              epilogue_row_ref(yg + i * OS, nc, bias ? bias[i] : 0.f, rg ? rg + i * OS : nullptr, ep);
        }
      }
      if (K == 0)  // no input channels: the output is the epilogue of zero
        for (int64_t i = 0; i < mr; ++i) {
          std::fill(yg + i * OS, yg + i * OS + nc, 0.f);
          epilogue_row_ref(yg + i * OS, nc, bias ? bias[i] : 0.f, rg ? rg + i * OS : nullptr, ep);
        }
    }
  });
}

// ---------------------------------------------------------------- bf16 (precision="bf16")
// The same tiling with bf16 operands: the B tile holds pairs of K rows as bf16 (1-D/2-D im2col gathers,
// rounds and interleaves two rows in one pass; 1x1 and 3-D pack two fp32 rows), so the tile in L2 is
// half the fp32 bytes.
// K slices of up to 1024 (an 8-row weight slice: 16 KB of bf16) and B tiles of 256 KB.
constexpr int64_t kMaxKcBf16 = 1024;
constexpr int64_t kTileElemsBf16 = 128 * 1024;

inline uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);                 // round to nearest even
}

void conv_gemm_bf16(const ConvArgs& a, const uint16_t* wb, int64_t ldw, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  int64_t G = a.group, Cg = a.c / G, Mg = a.m / G;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k), K = Cg * KS;
  bool direct = true;
  for (int i = 0; i < g.nd; ++i)
    if (g.k[i] != 1 || g.s[i] != 1 || g.pb[i] != 0 || g.pe[i] != 0) direct = false;
  Plane2d q = g.nd <= 2 ? plane_of(g) : Plane2d{};
  GemmPlan p = plan_gemm(a.n * G, Mg, K, OS, pool.num_threads(), kMaxKcBf16, kTileElemsBf16, true);
  int64_t tasks = a.n * G * p.n_blocks * p.m_blocks;
  const ConvEpilogue& ep = a.ep;
  pool.parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
    thread_local std::vector<uint32_t> tile;  // kept between calls, as in conv_gemm
    thread_local std::vector<float> rows;     // two im2col rows
    thread_local std::vector<int64_t> idx;
    int64_t ldp = (p.nc + 15) / 16 * 16;
    if (tile.size() < static_cast<size_t>((p.kc + 1) / 2 * ldp)) tile.resize(static_cast<size_t>((p.kc + 1) / 2 * ldp));
    if (!direct && g.nd > 2 && rows.size() < static_cast<size_t>(2 * ldp)) rows.resize(static_cast<size_t>(2 * ldp));
    if (!direct && g.nd > 2 && idx.size() < static_cast<size_t>(KS * p.nc)) idx.resize(static_cast<size_t>(KS * p.nc));
    for (int64_t t = tb; t < te; ++t) {
      int64_t mbi = t % p.m_blocks, nbi = (t / p.m_blocks) % p.n_blocks, gi = (t / (p.m_blocks * p.n_blocks)) % G;
      int64_t img = t / (p.m_blocks * p.n_blocks * G);
      int64_t j0 = nbi * p.nc, nc = std::min(p.nc, OS - j0);
      int64_t m0 = mbi * p.mb, mr = std::min(p.mb, Mg - m0);
      int64_t ch = gi * Mg + m0;
      const float* xg = a.x + (img * a.c + gi * Cg) * IS;
      float* yg = a.y + (img * a.m + ch) * OS + j0;
      const float* rg = a.residual ? a.residual + (img * a.m + ch) * OS + j0 : nullptr;
      const float* bias = ep.bias ? ep.bias + ch : nullptr;
      int64_t ldt = (nc + 15) / 16 * 16;
      if (!direct && g.nd > 2) tap_offsets_nd(g, j0, nc, idx.data());
      for (int64_t k0 = 0; k0 < K; k0 += p.kc) {
        int64_t k1 = std::min(K, k0 + p.kc);
        if (!direct && g.nd <= 2) {
          conv_avx512::im2col_bf16_pairs(xg, q, k0, k1, j0, nc, ldt, tile.data());
        } else {
          for (int64_t k = k0; k < k1; k += 2) {
            int64_t kn = std::min(k + 2, k1);
            const float* r0 = xg + k * IS + j0;
            if (!direct) {
              r0 = rows.data();
              for (int64_t kk = k; kk < kn; ++kk) {
                const float* xc = xg + (kk / KS) * IS;
                const int64_t* ir = idx.data() + (kk % KS) * nc;
                float* d = rows.data() + (kk - k) * ldt;
                for (int64_t jj = 0; jj < nc; ++jj) d[jj] = ir[jj] >= 0 ? xc[ir[jj]] : 0.f;
              }
            }
            const float* r1 = kn - k == 2 ? (direct ? r0 + IS : r0 + ldt) : nullptr;
            conv_avx512::pack_bf16_pairs(r0, r1, nc, ldt, tile.data() + (k - k0) / 2 * ldt);
          }
        }
        // An odd last slice pairs its last row with zeros; the weight row's value past K is 0 too.
        conv_avx512::gemm_tile_bf16(mr, nc, (k1 - k0 + 1) / 2, wb + ch * ldw + k0, ldw, tile.data(), ldt, yg, OS,
                                    k0 > 0, k1 >= K ? &ep : nullptr, bias, rg, OS);
      }
    }
  });
}

// The inner-product form (small outputs) in bf16: Bt[OS][K] built in bf16 along K, zero from K up to a
// multiple of 32, then dot products along K against the weight rows.
void conv_gemm_ip_bf16(const ConvArgs& a, const uint16_t* wb, int64_t ldw, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  int64_t G = a.group, Cg = a.c / G, Mg = a.m / G;
  int64_t IS = prod(g.in), OS = prod(g.out), KS = prod(g.k), K = Cg * KS;
  int64_t K32 = (K + 31) / 32 * 32;
  std::vector<int64_t> idx(static_cast<size_t>(KS * OS));
  tap_offsets_nd(g, 0, OS, idx.data());
  int64_t ldbt = K32 + 32;  // not a power of two: Bt rows would share L1 sets
  thread_local std::vector<uint16_t> bt;
  if (bt.size() < static_cast<size_t>(OS * ldbt)) bt.resize(static_cast<size_t>(OS * ldbt));
  uint16_t* Bt = bt.data();
  // Gathered 16 columns at a time where offsets within 16 channels fit in int32: tab[j * period + kk]
  // is the offset of tap kk % KS of column j in channel kk / KS (-1: padding), period = 16 channels'
  // worth of taps (conv_avx512::ip_columns_bf16).
  int64_t period = 16 * KS;
  std::vector<int32_t> tab;
  if (16 * IS < (int64_t{1} << 31)) {
    tab.resize(static_cast<size_t>(OS * period));
    for (int64_t j = 0; j < OS; ++j)
      for (int64_t kk = 0; kk < period; ++kk) {
        int64_t o = idx[(kk % KS) * OS + j];
        tab[j * period + kk] = o >= 0 ? static_cast<int32_t>(kk / KS * IS + o) : -1;
      }
  }
  int threads = pool.num_threads();
  int64_t rows_per_task = threads == 1 ? Mg : std::max<int64_t>(6, (Mg + 4 * threads - 1) / (4 * threads) + 5) / 6 * 6;
  int64_t tasks = (Mg + rows_per_task - 1) / rows_per_task;
  for (int64_t img = 0; img < a.n; ++img)
    for (int64_t gi = 0; gi < G; ++gi) {
      const float* xg = a.x + (img * a.c + gi * Cg) * IS;
      // Tasks own 32-column (64-byte) stripes of Bt, so no two threads write one cache line.
      int64_t stripes = K32 / 32;
      pool.parallel_for(0, stripes, std::max<int64_t>(1, 512 / std::max<int64_t>(OS, 1)), [&](int64_t sb, int64_t se) {
        if (!tab.empty()) {
          conv_avx512::ip_columns_bf16(xg, tab.data(), period, KS, IS, K, OS, sb * 32, se * 32, Bt, ldbt);
          return;
        }
        for (int64_t k = sb * 32, ke = se * 32; k < ke; ++k) {
          if (k >= K) {
            for (int64_t j = 0; j < OS; ++j) Bt[j * ldbt + k] = 0;
            continue;
          }
          const float* xc = xg + (k / KS) * IS;
          const int64_t* ir = idx.data() + (k % KS) * OS;
          for (int64_t j = 0; j < OS; ++j) Bt[j * ldbt + k] = ir[j] >= 0 ? bf16_bits(xc[ir[j]]) : 0;
        }
      });
      pool.parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
        for (int64_t t = tb; t < te; ++t) {
          int64_t m0 = t * rows_per_task, mr = std::min(rows_per_task, Mg - m0), ch = gi * Mg + m0;
          float* yg = a.y + (img * a.m + ch) * OS;
          const float* rg = a.residual ? a.residual + (img * a.m + ch) * OS : nullptr;
          conv_avx512::gemm_tile_ip_bf16(mr, OS, K32, wb + ch * ldw, ldw, Bt, ldbt, yg, OS, &a.ep,
                                         a.ep.bias ? a.ep.bias + ch : nullptr, rg, OS);
        }
      });
    }
}

bool is_depthwise(const ConvArgs& a) { return a.c == a.group && a.m % a.c == 0 && a.geom.nd <= 2; }

}  // namespace

void conv_depthwise(const ConvArgs& a, const Plane2d& q, ThreadPool& pool);  // conv_depthwise.cc

bool conv_bf16_applies(const ConvArgs& a) {
  const CpuFeatures& f = cpu_features();
  if (!f.has_avx512_kernels() || !f.avx512_bf16 || is_depthwise(a)) return false;
  return a.group > 0 && a.c % a.group == 0 && a.m % a.group == 0 && (a.c / a.group) * prod(a.geom.k) > 0;
}

void conv_forward_bf16(const ConvArgs& a, const uint16_t* wb, int64_t ldw, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  if (a.n == 0 || a.m == 0 || prod(g.out) == 0) return;
  int64_t K = (a.c / a.group) * prod(g.k);
  if (use_inner_product(prod(g.out), K)) {
    conv_gemm_ip_bf16(a, wb, ldw, pool);
    return;
  }
  conv_gemm_bf16(a, wb, ldw, pool);
}

void conv_forward_f32(const ConvArgs& a, ThreadPool& pool) {
  const conv_geom::Geom& g = a.geom;
  if (a.n == 0 || a.m == 0 || prod(g.out) == 0) return;
  if (is_depthwise(a)) {
    conv_depthwise(a, plane_of(g), pool);
    return;
  }
  if (winograd_applies(a)) {
    conv_winograd(a, pool);
    return;
  }
  int64_t K = (a.c / a.group) * prod(g.k);
  if (cpu_features().has_avx512_kernels() && use_inner_product(prod(g.out), K)) {
    conv_gemm_ip(a, pool);
    return;
  }
  conv_gemm(a, pool);
}

}  // namespace r1::cpu
