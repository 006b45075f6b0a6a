// GEMM driver: picks the path (AVX-512 bf16 / fp32 kernels, or OpenBLAS + epilogue), normalises B
// into panels, and splits the product into tasks over the thread pool.
#include "r1/cpu/gemm/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/core/hw_profile.h"
#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/gemm/split.h"

namespace r1::cpu::gemm {
namespace {

enum IsaLimit : int { kAuto = 0, kAvx512 = 1, kBaseline = 2 };
std::atomic<int> g_isa_limit{kAuto};

bool use_avx512() { return g_isa_limit.load() != kBaseline && cpu_features().has_avx512_kernels(); }
bool use_bf16() { return g_isa_limit.load() == kAuto && use_avx512() && cpu_features().avx512_bf16; }

// Depth per pass: the 8 x 48 accumulator tile stays in registers across all of K up to this
// (a K x 48 fp32 panel of 768 KB still streams from L2); beyond it partial sums go through C.
// Measured on the 2-core Zen 4: full depth beats 384-deep passes by up to 9% at K = 1536.
constexpr int64_t kMaxDepth = 4096;

int64_t depth_per_pass(int64_t k) {
  if (k <= kMaxDepth) return k;
  const int64_t passes = (k + kMaxDepth - 1) / kMaxDepth;
  const int64_t kb = (k + passes - 1) / passes;
  return (kb + 1) / 2 * 2;  // even: bf16 pairs must not straddle passes
}

// Columns [p * 48, p * 48 + 48) of a row-major B[K, N] as a zero-padded K x 48 panel.
void copy_panel(const float* b, int64_t ldb, int64_t k, int64_t n, int64_t p, float* dst) {
  const int64_t j0 = p * kNR, nr = std::min<int64_t>(kNR, n - j0);
  for (int64_t kk = 0; kk < k; ++kk) {
    float* d = dst + kk * kNR;
    std::copy(b + kk * ldb + j0, b + kk * ldb + j0 + nr, d);
    std::fill(d + nr, d + kNR, 0.f);
  }
}

// Where no AVX-512 kernel runs: OpenBLAS on each task's block (per panel for packed B), then the
// epilogue on the block while it is in cache.
void baseline_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const GemmB& B, float* C, int64_t ldc,
                   const Epilogue& ep, ThreadPool& pool) {
  const Split s = plan_split(M, N, K, pool.num_threads());
  run_tasks(s, pool, [&](int64_t t) {
    const Task tk = task_of(s, M, t);
    const int64_t rows = tk.i1 - tk.i0, j0 = tk.p0 * kNR, j1 = std::min(N, tk.p1 * kNR);
    if (rows <= 0 || j1 <= j0) return;
    const float* a = A + tk.i0 * lda;
    float* c = C + tk.i0 * ldc;
    if (!B.packed) {
      const float* b = B.trans ? B.f32 + j0 * B.ld : B.f32 + j0;
      sgemm_serial(false, B.trans, rows, j1 - j0, K, 1.f, a, lda, b, B.ld, 0.f, c + j0, ldc);
      epilogue_tile_ref(c + j0, ldc, rows, j1 - j0, tk.i0, j0, ep);
      return;
    }
    thread_local std::vector<float> panel;
    panel.resize(static_cast<size_t>(std::max<int64_t>(K, 1) * kNR));
    for (int64_t p = tk.p0; p < tk.p1; ++p) {
      const int64_t pj = p * kNR, nr = std::min<int64_t>(kNR, N - pj);
      const float* b;
      if (B.packed->layout == PackedLayout::F32) {
        b = static_cast<const float*>(B.packed->panels) + p * B.packed->panel_stride;
      } else {
        unpack_panel_f32(*B.packed, p, panel.data());
        b = panel.data();
      }
      sgemm_serial(false, false, rows, nr, K, 1.f, a, lda, b, kNR, 0.f, c + pj, ldc);
      epilogue_tile_ref(c + pj, ldc, rows, nr, tk.i0, pj, ep);
    }
  });
}

}  // namespace

Act parse_activation(const std::string& name) {
  static const struct {
    const char* name;
    Act act;
  } kActs[] = {{"", Act::None},
               {"Relu", Act::Relu},
               {"Gelu", Act::Gelu},
               {"GeluTanh", Act::GeluTanh},
               {"Sigmoid", Act::Sigmoid},
               {"Silu", Act::Silu},
               {"Tanh", Act::Tanh},
               {"HardSigmoid", Act::HardSigmoid},
               {"HardSwish", Act::HardSwish},
               {"Clip", Act::Clip},
               {"LeakyRelu", Act::LeakyRelu}};
  for (const auto& a : kActs)
    if (name == a.name) return a.act;
  R1_THROW(ModelError) << "FusedMatMul: unknown activation \"" << name
                       << "\" (expected one of \"\", Relu, Gelu, GeluTanh, Sigmoid, Silu, Tanh, HardSigmoid, "
                          "HardSwish, Clip, LeakyRelu)";
}

bool fast_gemm_available() { return use_avx512(); }

void set_gemm_isa_limit(const std::string& isa) {
  if (isa == "auto")
    g_isa_limit = kAuto;
  else if (isa == "avx512")
    g_isa_limit = kAvx512;
  else if (isa == "baseline")
    g_isa_limit = kBaseline;
  else
    R1_THROW(InputError) << "set_gemm_isa_limit: expected \"auto\", \"avx512\" or \"baseline\", got \"" << isa << "\"";
}

std::string gemm_path(PackedLayout precision) {
  if (!use_avx512()) return "baseline";
  return precision == PackedLayout::BF16 && use_bf16() ? "avx512-bf16" : "avx512-fp32";
}

void fused_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const GemmB& B, PackedLayout precision,
                float* C, int64_t ldc, const Epilogue& ep, ThreadPool& pool) {
  if (M <= 0 || N <= 0) return;
  if (B.packed)
    R1_CHECK(B.packed->k == K && B.packed->n == N, InternalError)
        << "fused_gemm: packed B is " << B.packed->k << " x " << B.packed->n << ", product needs " << K << " x " << N;
  const bool avx512 = use_avx512(), bf16 = use_bf16();
  // Normalise B: a plain B becomes panels when the kernel needs them (bf16 pairs; [N, K] to
  // transpose); a plain [K, N] fp32 B is read in place.
  thread_local std::vector<char> packed_buf;  // kept between calls: no page faults per call
  PackedB local;
  const PackedB* view = B.packed;
  const bool need_pack = !view && avx512 && ((precision == PackedLayout::BF16 && bf16) || B.trans);
  if (need_pack) {
    const PackedLayout l = precision == PackedLayout::BF16 && bf16 ? PackedLayout::BF16 : PackedLayout::F32;
    const size_t bytes = packed_bytes(K, N, l);
    packed_buf.resize(bytes + 64);
    char* blob = packed_buf.data() + (64 - reinterpret_cast<uintptr_t>(packed_buf.data()) % 64) % 64;
    pack_into(B.f32, B.ld, B.trans, K, N, l, blob, &pool);
    local = packed_view(blob, bytes, K, N, l);
    view = &local;
  }
  if (!avx512) {
    GemmB b = B;
    b.packed = view;
    baseline_gemm(M, N, K, A, lda, b, C, ldc, ep, pool);
    return;
  }
  const bool bf16_kernel = view && view->layout == PackedLayout::BF16 && bf16;
  const bool unpack_bf16 = view && view->layout == PackedLayout::BF16 && !bf16;
  // bf16 A, converted once per call (each element feeds N products); row stride even for the pairs.
  const int64_t lda16 = std::max<int64_t>(2, (K + 1) / 2 * 2);
  // (Reached through a pointer: a thread_local named inside the lambda would be each worker's own.)
  thread_local std::vector<uint16_t> a16_buf;
  uint16_t* a16 = nullptr;
  if (bf16_kernel) {
    a16_buf.resize(static_cast<size_t>(M * lda16));
    a16 = a16_buf.data();
    // ~20 us of conversion per chunk: a smaller one costs less than waking a worker
    pool.parallel_for(0, M, std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(K, 1)),
                      [&](int64_t r0, int64_t r1) {
                        f32_to_bf16_rows_avx512(A + r0 * lda, lda, a16 + r0 * lda16, lda16, r1 - r0, K);
                      });
  }
  // A plain B's partial last panel, as a padded copy (its 48-wide loads would run past B's end).
  const int64_t panels = (N + kNR - 1) / kNR;
  const bool tail = !view && N % kNR != 0;
  thread_local std::vector<float> tail_panel;
  const float* tail_p = nullptr;
  if (tail) {
    tail_panel.resize(static_cast<size_t>(std::max<int64_t>(K, 1) * kNR));
    copy_panel(B.f32, B.ld, K, N, panels - 1, tail_panel.data());
    tail_p = tail_panel.data();
  }
  const Split s = plan_split(M, N, K, pool.num_threads());
  run_tasks(s, pool, [&](int64_t t) {
    const Task tk = task_of(s, M, t);
    if (tk.i1 <= tk.i0 || tk.p1 <= tk.p0) return;
    TileArgs a;
    a.rows = tk.i1 - tk.i0;
    a.k = K;
    a.row0 = tk.i0;
    a.k_block = depth_per_pass(K);
    a.a = A + tk.i0 * lda;
    a.lda = lda;
    a.a_bf16 = bf16_kernel ? a16 + tk.i0 * lda16 : nullptr;
    a.lda_bf16 = lda16;
    a.ldc = ldc;
    a.ep = &ep;
    auto run_panels = [&](int64_t p0, int64_t p1, const void* b, int64_t panel_stride, int64_t ldb, bool use_bf16) {
      a.col0 = p0 * kNR;
      a.cols = std::min(N, p1 * kNR) - a.col0;
      a.b = b;
      a.panel_stride = panel_stride;
      a.ldb = ldb;
      a.c = C + tk.i0 * ldc + a.col0;
      if (use_bf16)
        gemm_block_bf16_avx512(a);
      else
        gemm_block_f32_avx512(a);
    };
    if (bf16_kernel) {
      run_panels(tk.p0, tk.p1, static_cast<const uint16_t*>(view->panels) + tk.p0 * view->panel_stride,
                 view->panel_stride, view->ldb, true);
    } else if (unpack_bf16) {
      // bf16 weights without AVX512-BF16: each panel widened to fp32 for the fp32 kernel.
      thread_local std::vector<float> panel;
      panel.resize(static_cast<size_t>(std::max<int64_t>(K, 1) * kNR));
      for (int64_t p = tk.p0; p < tk.p1; ++p) {
        unpack_panel_f32(*view, p, panel.data());
        run_panels(p, p + 1, panel.data(), kNR * K, kNR, false);
      }
    } else if (view) {
      run_panels(tk.p0, tk.p1, static_cast<const float*>(view->panels) + tk.p0 * view->panel_stride, view->panel_stride,
                 view->ldb, false);
    } else {
      const int64_t full_end = tail ? std::min(tk.p1, panels - 1) : tk.p1;
      if (full_end > tk.p0) run_panels(tk.p0, full_end, B.f32 + tk.p0 * kNR, kNR, B.ld, false);
      if (tail && tk.p1 == panels) run_panels(panels - 1, panels, tail_p, kNR * K, kNR, false);
    }
  });
}

}  // namespace r1::cpu::gemm
