// int8 GEMM driver (gemm_s8.h): quantizes A's rows, splits the product into tasks (split.h) and runs
// the VNNI or the portable block on each. The portable kernels here are the reference for the VNNI
// ones: the same integers, the same float formula.
#include "r1/cpu/gemm/gemm_s8.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/sparse_choice.h"
#include "r1/cpu/gemm/split.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kQuad = 4 * kNR;

bool use_vnni() { return fast_gemm_available() && cpu_features().avx512_vnni; }
bool use_sparse_kernel() { return use_vnni() && cpu_features().avx512_vbmi; }

void check_view(const PackedB& B, int64_t K, int64_t N, const char* who) {
  R1_CHECK((B.layout == PackedLayout::S8 || B.layout == PackedLayout::S8S24) && B.k == K && B.n == N, InternalError)
      << who << ": B must be an int8 packed " << K << " x " << N << " operand, got " << B.k << " x " << B.n;
  R1_CHECK(K <= kMaxS8Depth, InputError) << who << ": inner dimension " << K << " exceeds the int8 GEMM's "
                                         << kMaxS8Depth << " (its int32 accumulators could overflow)";
}

// The dense block kernel of this CPU.
void dense_block(const TileArgsS8& x, bool vnni) {
  if (vnni)
    gemm_block_s8_avx512(x);
  else
    gemm_block_s8_ref(x);
}

// A 2:4 B through the dense kernel: each panel of the task expanded to dense quads first (the fallback where
// the sparse kernel is slower, or missing).
void expanded_block(TileArgsS8 x, const PackedB& B, bool vnni) {
  const int64_t blocks = (B.k + 7) / 8, panels = (x.cols + kNR - 1) / kNR;
  thread_local std::vector<int8_t> dense;
  dense.resize(static_cast<size_t>(blocks * 2 * kQuad));
  const int8_t* first = x.b;
  const int64_t cols = x.cols, col0 = x.col0;
  float* c = x.c;
  int32_t* c32 = x.c32;
  for (int64_t q = 0; q < panels; ++q) {
    if (use_sparse_kernel())
      expand_s8_2to4_panel_avx512vbmi(first + q * x.panel_stride, blocks, dense.data());
    else
      expand_s8_2to4_panel(first + q * x.panel_stride, blocks, dense.data());
    x.b = dense.data();
    x.cols = std::min(kNR, cols - q * kNR);
    x.col0 = col0 + q * kNR;
    x.b_scale = B.col_scale + x.col0;
    x.b_sum = B.col_sum + x.col0;
    x.c = c ? c + q * kNR : nullptr;
    x.c32 = c32 ? c32 + q * kNR : nullptr;
    dense_block(x, vnni);
  }
}

// A 2:4 B expanded whole into dense quads: panel p at p * dense_panel_stride(B) (col_scale / col_sum stay B's).
int64_t dense_panel_stride(const PackedB& B) { return (B.k + 7) / 8 * 2 * kQuad; }
std::vector<int8_t> expand_whole(const PackedB& B, ThreadPool& pool) {
  const int64_t blocks = (B.k + 7) / 8, panels = (B.n + kNR - 1) / kNR, stride = dense_panel_stride(B);
  std::vector<int8_t> out(static_cast<size_t>(panels * stride));
  pool.parallel_for(0, panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int8_t* src = static_cast<const int8_t*>(B.panels) + p * B.panel_stride;
      if (use_sparse_kernel())
        expand_s8_2to4_panel_avx512vbmi(src, blocks, out.data() + p * stride);
      else
        expand_s8_2to4_panel(src, blocks, out.data() + p * stride);
    }
  });
  return out;
}
PackedB dense_view(const PackedB& B, const std::vector<int8_t>& dense) {
  PackedB d = B;
  d.layout = PackedLayout::S8;
  d.panels = dense.data();
  d.panel_stride = dense_panel_stride(B);
  return d;
}

// Runs the block kernel over tasks; `a` rows are uint8 at lda bytes (a multiple of 4, of 8 for a 2:4 B).
// sparse: a 2:4 B through the sparse kernel (else expanded).
void run_s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const float* a_scale, const int32_t* a_zero,
            const PackedB& B, float* C, int32_t* C32, int64_t ldc, const Epilogue* ep, ThreadPool& pool,
            bool sparse = false) {
  const bool vnni = use_vnni();
  const bool s24 = B.layout == PackedLayout::S8S24;
  // The sparse kernel's time per row is the dense one's (half the dot products, one shuffle each): the same
  // threshold for waking the workers.
  const Split s = plan_split(M, N, K, pool.num_threads(), 4);
  run_tasks(s, pool, [&](int64_t t) {
    const Task tk = task_of(s, M, t);
    if (tk.i1 <= tk.i0 || tk.p1 <= tk.p0) return;
    TileArgsS8 x;
    x.rows = tk.i1 - tk.i0;
    x.col0 = tk.p0 * kNR;
    x.cols = std::min(N, tk.p1 * kNR) - x.col0;
    x.kq = s24 && sparse ? (K + 7) / 8 : (K + 3) / 4;
    x.row0 = tk.i0;
    x.a = a + tk.i0 * lda;
    x.lda = lda;
    x.a_scale = a_scale ? a_scale + tk.i0 : nullptr;
    x.a_zero = a_zero + tk.i0;
    x.b = static_cast<const int8_t*>(B.panels) + tk.p0 * B.panel_stride;
    x.panel_stride = B.panel_stride;
    x.b_scale = B.col_scale + x.col0;
    x.b_sum = B.col_sum + x.col0;
    x.c = C ? C + tk.i0 * ldc + x.col0 : nullptr;
    x.c32 = C32 ? C32 + tk.i0 * ldc + x.col0 : nullptr;
    x.ldc = ldc;
    x.ep = ep;
    if (!s24)
      dense_block(x, vnni);
    else if (sparse)
      gemm_block_s8_2to4_avx512vbmi(x);
    else
      expanded_block(x, B, vnni);
  });
}

// Whether a 2:4 B runs through the sparse kernel for this product: forced by set_sparse_path, or measured
// once per shape (sparse_choice.h) on this call's quantized A into scratch output. With a holder the dense
// side is timed over a whole expanded copy (what a held copy costs per call), else with the per-call expansion.
bool pick_sparse(int64_t M, int64_t N, int64_t K, const uint8_t* q, int64_t ldq, const float* scale,
                 const int32_t* zero, const PackedB& B, ThreadPool& pool, bool held) {
  if (B.layout != PackedLayout::S8S24 || !use_sparse_kernel()) return false;
  std::vector<int8_t> trial;
  return choose_sparse(M, K, N, pool.num_threads(), held, [&](bool sparse) {
    std::vector<float> scratch(static_cast<size_t>(M * N));
    if (!sparse && held && trial.empty()) trial = expand_whole(B, pool);
    const PackedB view = !sparse && held ? dense_view(B, trial) : B;
    return time_seconds(
        [&] { run_s8(M, N, K, q, ldq, scale, zero, view, scratch.data(), nullptr, N, nullptr, pool, sparse); });
  });
}

}  // namespace

void gemm_block_s8_ref(const TileArgsS8& t) {
  int32_t acc[kMR][kNR];
  const int64_t panels = (t.cols + kNR - 1) / kNR;
  for (int64_t q = 0; q < panels; ++q) {
    const int64_t nr = std::min(kNR, t.cols - q * kNR);
    const int8_t* b = t.b + q * t.panel_stride;
    for (int64_t i0 = 0; i0 < t.rows; i0 += kMR) {
      const int64_t mr = std::min(kMR, t.rows - i0);
      for (int64_t r = 0; r < mr; ++r) std::fill(acc[r], acc[r] + kNR, 0);
      for (int64_t k = 0; k < t.kq; ++k)
        for (int64_t r = 0; r < mr; ++r) {
          const uint8_t* a = t.a + (i0 + r) * t.lda + 4 * k;
          const int8_t* bk = b + k * kQuad;
          for (int64_t j = 0; j < kNR; ++j)
            acc[r][j] += a[0] * bk[4 * j] + a[1] * bk[4 * j + 1] + a[2] * bk[4 * j + 2] + a[3] * bk[4 * j + 3];
        }
      for (int64_t r = 0; r < mr; ++r)
        for (int64_t j = 0; j < nr; ++j) {
          const int64_t col = q * kNR + j;
          const int32_t x = acc[r][j] - t.a_zero[i0 + r] * t.b_sum[col];
          if (t.c32)
            t.c32[(i0 + r) * t.ldc + col] = x;
          else
            t.c[(i0 + r) * t.ldc + col] = static_cast<float>(x) * (t.a_scale[i0 + r] * t.b_scale[col]);
        }
      if (!t.c32 && t.ep)
        epilogue_tile_ref(t.c + i0 * t.ldc + q * kNR, t.ldc, mr, nr, t.row0 + i0, t.col0 + q * kNR, *t.ep);
    }
  }
}

void quantize_rows_u8_ref(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq, float* scale,
                          int32_t* zero) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * lda;
    float mn = 0.f, mx = 0.f;
    for (int64_t j = 0; j < k; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
    float s = (mx - mn) / 255.f;
    if (!(s > 0.f)) s = 1.f;
    const float inv = 1.f / s;
    const int32_t z = static_cast<int32_t>(std::min(255.f, std::max(0.f, std::nearbyint(-mn * inv))));
    scale[r] = s;
    zero[r] = z;
    uint8_t* d = q + r * ldq;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t v = static_cast<int32_t>(std::nearbyint(x[j] * inv)) + z;
      d[j] = static_cast<uint8_t>(std::min(255, std::max(0, v)));
    }
    std::fill(d + k, d + ldq, uint8_t{0});
  }
}

void quantize_rows_u8_fixed_ref(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                                float scale, int32_t zero) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * lda;
    uint8_t* d = q + r * ldq;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t v = static_cast<int32_t>(std::nearbyint(x[j] / scale)) + zero;
      d[j] = static_cast<uint8_t>(std::min(255, std::max(0, v)));
    }
    std::fill(d + k, d + ldq, uint8_t{0});
  }
}

void gemm_s8(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc,
             const Epilogue& ep, ThreadPool& pool, const ActQuant& aq, const DenseCopyHolder* hold) {
  if (M <= 0 || N <= 0) return;
  check_view(B, K, N, "gemm_s8");
  const int64_t ldq = std::max<int64_t>(8, (K + 7) / 8 * 8);  // whole blocks of 8 for a 2:4 B
  // Kept between calls (no page faults per call); reached through pointers inside the lambdas.
  thread_local std::vector<uint8_t> q_buf;
  thread_local std::vector<float> scale_buf;
  thread_local std::vector<int32_t> zero_buf;
  q_buf.resize(static_cast<size_t>(M * ldq));
  scale_buf.resize(static_cast<size_t>(M));
  zero_buf.resize(static_cast<size_t>(M));
  uint8_t* q = q_buf.data();
  float* scale = scale_buf.data();
  int32_t* zero = zero_buf.data();
  const bool vnni = use_vnni();
  float fixed_scale = aq.scale;
  int32_t fixed_zero = aq.zero;
  if (aq.mode == ActQuant::Tensor) dynamic_quant_params(A, lda, M, K, &fixed_scale, &fixed_zero);
  const bool fixed = aq.mode != ActQuant::Row;
  if (fixed) {
    R1_CHECK(fixed_scale > 0.f && fixed_zero >= 0 && fixed_zero <= 255, InputError)
        << "gemm_s8: activation scale must be > 0 and zero point in [0, 255] (uint8), got " << fixed_scale << " and "
        << fixed_zero;
    std::fill(scale, scale + M, fixed_scale);
    std::fill(zero, zero + M, fixed_zero);
  }
  // ~20 us of quantization per chunk: a smaller one costs less than waking a worker.
  pool.parallel_for(0, M, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(K, 1)),
                    [&](int64_t r0, int64_t r1) {
                      const float* a = A + r0 * lda;
                      uint8_t* qr = q + r0 * ldq;
                      if (fixed && vnni)
                        quantize_rows_u8_fixed_avx512(a, lda, r1 - r0, K, qr, ldq, fixed_scale, fixed_zero);
                      else if (fixed)
                        quantize_rows_u8_fixed_ref(a, lda, r1 - r0, K, qr, ldq, fixed_scale, fixed_zero);
                      else if (vnni)
                        quantize_rows_u8_avx512(a, lda, r1 - r0, K, qr, ldq, scale + r0, zero + r0);
                      else
                        quantize_rows_u8_ref(a, lda, r1 - r0, K, qr, ldq, scale + r0, zero + r0);
                    });
  const bool sparse = pick_sparse(M, N, K, q, ldq, scale, zero, B, pool, hold != nullptr);
  if (B.layout == PackedLayout::S8S24 && !sparse && hold) {
    const DenseCopy dense = (*hold)([&] { return expand_whole(B, pool); });
    run_s8(M, N, K, q, ldq, scale, zero, dense_view(B, *dense), C, nullptr, ldc, &ep, pool);
    return;
  }
  run_s8(M, N, K, q, ldq, scale, zero, B, C, nullptr, ldc, &ep, pool, sparse);
}

void gemm_u8s8_s32(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda, int32_t a_zero, const PackedB& B,
                   int32_t* C, int64_t ldc, ThreadPool& pool) {
  if (M <= 0 || N <= 0) return;
  check_view(B, K, N, "gemm_u8s8_s32");
  // A's rows padded to whole quads (zeros: their products with B's zero padding vanish).
  const int64_t ldq = std::max<int64_t>(4, (K + 3) / 4 * 4);
  const uint8_t* a = A;
  int64_t ld = lda;
  std::vector<uint8_t> padded;
  if (K % 4 != 0 || lda % 4 != 0) {
    padded.assign(static_cast<size_t>(M * ldq), 0);
    for (int64_t r = 0; r < M; ++r) std::copy(A + r * lda, A + r * lda + K, padded.data() + r * ldq);
    a = padded.data();
    ld = ldq;
  }
  const std::vector<int32_t> zero(static_cast<size_t>(M), a_zero);
  run_s8(M, N, K, a, ld, nullptr, zero.data(), B, nullptr, C, ldc, nullptr, pool);
}

std::string gemm_s8_path() { return use_vnni() ? "avx512-vnni" : "portable"; }
bool s8_vnni_available() { return use_vnni(); }
bool s8_sparse_kernel_available() { return use_sparse_kernel(); }

void dynamic_quant_params(const float* a, int64_t lda, int64_t rows, int64_t k, float* scale, int32_t* zero) {
  float lo = 0.f, hi = 0.f;
  if (fast_gemm_available()) {
    minmax_rows_avx512(a, lda, rows, k, &lo, &hi);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) lo = std::min(lo, a[r * lda + j]), hi = std::max(hi, a[r * lda + j]);
  }
  *scale = (hi - lo) / 255.f;
  if (!(*scale > 0.f)) *scale = 1.f;
  *zero = static_cast<int32_t>(std::min(255.f, std::max(0.f, std::nearbyint(-lo / *scale))));
}

}  // namespace r1::cpu::gemm
