// GEMM for CPU kernels: OpenBLAS (single-threaded, split across our pool) or a built-in packed kernel.
#include "r1/cpu/gemm/blas.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace r1::cpu {
namespace {

// C = beta * C (beta == 0 writes zeros without reading C).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  if (beta == 1.f) return;
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.f)
      std::fill(c, c + N, 0.f);
    else
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_BLAS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define R1_BLAS_CLONES
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_GEMV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define R1_GEMV_CLONES
#endif

// y[N] = alpha * x[K] * B[K,N] (+ y when accumulate): y (in L1 for model widths) takes four rows of
// B per pass, so B streams through once in row order.
R1_GEMV_CLONES void gemv_rows(int64_t N, int64_t K, float alpha, const float* x, int64_t incx, const float* B,
                              int64_t ldb, float* y, bool accumulate) {
  constexpr int64_t JB = 4096;  // columns per block: y block stays in L1
  for (int64_t j0 = 0; j0 < N; j0 += JB) {
    int64_t nb = std::min(JB, N - j0);
    float* __restrict yy = y + j0;
    if (!accumulate)
      for (int64_t t = 0; t < nb; ++t) yy[t] = 0.f;
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      float a0 = alpha * x[k * incx], a1 = alpha * x[(k + 1) * incx], a2 = alpha * x[(k + 2) * incx],
            a3 = alpha * x[(k + 3) * incx];
      const float* __restrict b0 = B + k * ldb + j0;
      const float* __restrict b1 = b0 + ldb;
      const float* __restrict b2 = b1 + ldb;
      const float* __restrict b3 = b2 + ldb;
      for (int64_t t = 0; t < nb; ++t) yy[t] += a0 * b0[t] + a1 * b1[t] + a2 * b2[t] + a3 * b3[t];
    }
    for (; k < K; ++k) {
      float a0 = alpha * x[k * incx];
      const float* __restrict b0 = B + k * ldb + j0;
      for (int64_t t = 0; t < nb; ++t) yy[t] += a0 * b0[t];
    }
  }
}

#ifndef R1_WITH_OPENBLAS
// ---- built-in GEMM: B packed into NR-wide column panels, A into MR-tall row panels, an MR x NR
// register tile accumulated over a KC slice.
constexpr int kMR = 6;
constexpr int kNR = 16;
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 96;
constexpr int64_t kNC = 2048;

typedef float v8f __attribute__((vector_size(32)));

// C[mr,nr] += pa (kc x 6, packed) * pb (kc x 16, packed): twelve 8-wide accumulators.
R1_BLAS_CLONES void micro_6x16(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* C,
                               int64_t ldc, int mr, int nr) {
  v8f acc[kMR][2];
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = v8f{};
  for (int64_t k = 0; k < kc; ++k) {
    v8f b0, b1;
    std::memcpy(&b0, pb + k * kNR, sizeof(v8f));
    std::memcpy(&b1, pb + k * kNR + 8, sizeof(v8f));
    const float* a = pa + k * kMR;
    for (int r = 0; r < kMR; ++r) {
      v8f av = v8f{} + a[r];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
  float tile[kMR][kNR];
  std::memcpy(tile, acc, sizeof(tile));
  for (int r = 0; r < mr; ++r) {
    float* c = C + r * ldc;
    if (nr == kNR)
      for (int t = 0; t < kNR; ++t) c[t] += tile[r][t];
    else
      for (int t = 0; t < nr; ++t) c[t] += tile[r][t];
  }
}

void gemm_builtin(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float* C, int64_t ldc) {
  thread_local std::vector<float> pa_buf, pb_buf;
  pa_buf.resize(static_cast<size_t>(kMC * kKC));
  pb_buf.resize(static_cast<size_t>(kKC * (kNC + kNR)));
  float* pa = pa_buf.data();
  float* pb = pb_buf.data();
  for (int64_t jc = 0; jc < N; jc += kNC) {
    int64_t nc = std::min(kNC, N - jc);
    int64_t npan = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      int64_t kc = std::min(kKC, K - pc);
      // pack B[pc:pc+kc, jc:jc+nc]
      for (int64_t p = 0; p < npan; ++p) {
        int64_t j0 = jc + p * kNR;
        int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
        float* dst = pb + p * kc * kNR;
        for (int64_t k = 0; k < kc; ++k) {
          float* d = dst + k * kNR;
          if (!transB) {
            const float* s = B + (pc + k) * ldb + j0;
            if (nr == kNR)
              for (int t = 0; t < kNR; ++t) d[t] = s[t];
            else
              for (int t = 0; t < kNR; ++t) d[t] = t < nr ? s[t] : 0.f;
          } else {
            const float* s = B + j0 * ldb + pc + k;
            for (int t = 0; t < kNR; ++t) d[t] = t < nr ? s[t * ldb] : 0.f;
          }
        }
      }
      for (int64_t ic = 0; ic < M; ic += kMC) {
        int64_t mc = std::min(kMC, M - ic);
        int64_t mpan = (mc + kMR - 1) / kMR;
        for (int64_t q = 0; q < mpan; ++q) {
          int64_t i0 = ic + q * kMR;
          int mr = static_cast<int>(std::min<int64_t>(kMR, M - i0));
          float* dst = pa + q * kc * kMR;
          for (int64_t k = 0; k < kc; ++k) {
            float* d = dst + k * kMR;
            for (int r = 0; r < kMR; ++r) {
              float v = 0.f;
              if (r < mr) v = transA ? A[(pc + k) * lda + i0 + r] : A[(i0 + r) * lda + pc + k];
              d[r] = alpha * v;
            }
          }
        }
        for (int64_t q = 0; q < mpan; ++q) {
          int64_t i0 = ic + q * kMR;
          int mr = static_cast<int>(std::min<int64_t>(kMR, M - i0));
          const float* a = pa + q * kc * kMR;
          for (int64_t p = 0; p < npan; ++p) {
            int64_t j0 = jc + p * kNR;
            int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
            const float* b = pb + p * kc * kNR;
            micro_6x16(kc, a, b, C + i0 * ldc + j0, ldc, mr, nr);
          }
        }
      }
    }
  }
}

// y[N] += alpha * x[K] * op(B): the M == 1 product streams B once.
R1_BLAS_CLONES void gemv_row_builtin(bool transB, int64_t N, int64_t K, float alpha, const float* x, int64_t incx,
                                     const float* B, int64_t ldb, float* y) {
  if (!transB) {
    for (int64_t k = 0; k < K; ++k) {
      float a = alpha * x[k * incx];
      const float* __restrict b = B + k * ldb;
      float* __restrict yy = y;
      for (int64_t j = 0; j < N; ++j) yy[j] += a * b[j];
    }
  } else {
    std::vector<float> xs(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) xs[k] = x[k * incx];
    for (int64_t j = 0; j < N; ++j) {
      const float* __restrict b = B + j * ldb;
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += xs[k] * b[k];
      y[j] += alpha * s;
    }
  }
}
#endif

#ifdef R1_WITH_OPENBLAS
// Our pool does the threading; OpenBLAS's own threads would spin on the same cores.
struct OpenBlasSingleThread {
  OpenBlasSingleThread() { scipy_openblas_set_num_threads(1); }
};
const OpenBlasSingleThread g_openblas_single_thread;
#endif

}  // namespace

const char* blas_backend() {
#ifdef R1_WITH_OPENBLAS
  return "openblas";
#else
  return "builtin";
#endif
}

void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (M == 1 && !transB && (beta == 0.f || beta == 1.f)) {
    gemv_rows(N, K, alpha, A, transA ? lda : 1, B, ldb, C, beta == 1.f);
    return;
  }
#ifdef R1_WITH_OPENBLAS
  using bi = blasint;
  if (M == 1) {
    // y = alpha * op(B)^T x + beta * y with x the single row of op(A).
    if (beta == 0.f) std::fill(C, C + N, 0.f);
    const float* x = A;
    bi incx = transA ? static_cast<bi>(lda) : 1;
    if (!transB)
      R1_CBLAS(sgemv)(CblasRowMajor, CblasTrans, static_cast<bi>(K), static_cast<bi>(N), alpha, B,
                      static_cast<bi>(std::max<int64_t>(ldb, 1)), x, incx, beta == 0.f ? 1.f : beta, C, 1);
    else
      R1_CBLAS(sgemv)(CblasRowMajor, CblasNoTrans, static_cast<bi>(N), static_cast<bi>(K), alpha, B,
                      static_cast<bi>(std::max<int64_t>(ldb, 1)), x, incx, beta == 0.f ? 1.f : beta, C, 1);
    return;
  }
  if (N == 1) {
    // y = alpha * op(A) b + beta * y with b the single column of op(B); y has stride ldc.
    if (beta == 0.f)
      for (int64_t i = 0; i < M; ++i) C[i * ldc] = 0.f;
    bi incb = transB ? 1 : static_cast<bi>(ldb);
    R1_CBLAS(sgemv)(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, static_cast<bi>(transA ? K : M),
                    static_cast<bi>(transA ? M : K), alpha, A, static_cast<bi>(std::max<int64_t>(lda, 1)), B, incb,
                    beta == 0.f ? 1.f : beta, C, static_cast<bi>(ldc));
    return;
  }
  R1_CBLAS(sgemm)(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  static_cast<bi>(M), static_cast<bi>(N), static_cast<bi>(K), alpha, A,
                  static_cast<bi>(std::max<int64_t>(lda, 1)), B, static_cast<bi>(std::max<int64_t>(ldb, 1)), beta, C,
                  static_cast<bi>(std::max<int64_t>(ldc, 1)));
#else
  scale_c(M, N, beta, C, ldc);
  if (M == 1) {
    gemv_row_builtin(transB, N, K, alpha, A, transA ? lda : 1, B, ldb, C);
    return;
  }
  gemm_builtin(transA, transB, M, N, K, alpha, A, lda, B, ldb, C, ldc);
#endif
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool& pool) {
  const int nt = pool.num_threads();
  // A product with a unit dimension is a memory-bound GEMV: count its multiply-adds as dearer.
  const int64_t work = M * N * std::max<int64_t>(K, 1) * (M == 1 || N == 1 ? 3 : 1);
  if (nt <= 1 || M <= 0 || N <= 0 || work < kGemmParallelWork) {
    sgemm_serial(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // More pieces than threads: the caller starts at once and a worker that wakes late (parked
  // workers take tens of microseconds in a VM) picks up what is left. Split the dimension whose
  // shared operand is smaller (every piece re-packs the operand it shares).
  const int64_t max_pieces = (M == 1 || N == 1 ? 4 : 2) * nt;
  int64_t pieces = std::min<int64_t>(max_pieces, std::max<int64_t>(nt, work / (kGemmParallelWork / 2)));
  bool split_m = N == 1 || (M > N && M >= 8 * nt);
  if (split_m) {
    int64_t rows = (M + pieces - 1) / pieces;
    rows = std::min(M, (rows + 7) / 8 * 8);
    int64_t parts = (M + rows - 1) / rows;
    pool.parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        int64_t m0 = p * rows, m1 = std::min(M, m0 + rows);
        const float* a = transA ? A + m0 : A + m0 * lda;
        sgemm_serial(transA, transB, m1 - m0, N, K, alpha, a, lda, B, ldb, beta, C + m0 * ldc, ldc);
      }
    });
  } else {
    int64_t cols = (N + pieces - 1) / pieces;
    cols = std::min(N, (cols + 15) / 16 * 16);
    int64_t parts = (N + cols - 1) / cols;
    pool.parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        int64_t n0 = p * cols, n1 = std::min(N, n0 + cols);
        const float* b = transB ? B + n0 * ldb : B + n0;
        sgemm_serial(transA, transB, M, n1 - n0, K, alpha, A, lda, b, ldb, beta, C + n0, ldc);
      }
    });
  }
}

void sgemm_batched(bool transA, bool transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                   float beta, float* C, int64_t ldc, int64_t strideC, ThreadPool& pool) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (batch == 1) {
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pool);
    return;
  }
  const int nt = pool.num_threads();
  const int64_t per = M * N * std::max<int64_t>(K, 1);
  auto one = [&](int64_t b) {
    sgemm_serial(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC,
                 ldc);
  };
  if (nt <= 1 || per * batch < kGemmParallelWork) {
    for (int64_t b = 0; b < batch; ++b) one(b);
    return;
  }
  // Whole products per task balance well when there are many, or a multiple of the threads.
  if (per < 4 * kGemmParallelWork || batch >= 4 * nt || batch % nt == 0) {
    int64_t grain = std::max<int64_t>(1, kGemmParallelWork / per);
    grain = std::min(grain, (batch + nt - 1) / nt);
    pool.parallel_for(0, batch, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) one(b);
    });
    return;
  }
  for (int64_t b = 0; b < batch; ++b)
    sgemm(transA, transB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc, pool);
}

}  // namespace r1::cpu
