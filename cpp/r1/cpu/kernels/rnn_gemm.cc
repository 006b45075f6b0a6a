// The products of the rnn family's CPU kernels (rnn_kernels.h): OpenBLAS for large ones, a built-in
// blocked loop below the call overhead, split across the pool by panels or rows.
#include <algorithm>

#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/kernels/rnn_kernels.h"

namespace r1::cpu {
namespace {

// Below this many multiply-adds the built-in loop beats the BLAS call overhead.
constexpr int64_t kBlasMinWork = 1 << 16;

// C[M,N] (+)= A[M,K] * B[K,N]: the built-in blocked loop for small products.
R1_RNN_CLONES void gemm_small(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                              float* C, int64_t ldc, bool accumulate) {
  if (!accumulate) {
    for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.f);
  }
  constexpr int64_t KB = 128, NB = 512;
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    int64_t k1 = std::min(K, k0 + KB);
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
      int64_t nb = std::min(N, n0 + NB) - n0;
      for (int64_t m = 0; m < M; ++m) {
        float* __restrict c = C + m * ldc + n0;
        const float* a = A + m * lda;
        for (int64_t k = k0; k < k1; ++k) {
          float av = a[k];
          const float* __restrict b = B + k * ldb + n0;
          for (int64_t j = 0; j < nb; ++j) c[j] += av * b[j];
        }
      }
    }
  }
}

}  // namespace

// C[M,N] = A[M,K] * B[K,N] (+ C when accumulate). Row-major with leading dimensions.
void rnn_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.f);
    return;
  }
  if (M * N * K >= kBlasMinWork) {
    sgemm_serial(false, false, M, N, K, 1.f, A, lda, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  gemm_small(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// A per-step product split across the pool in 16-column panels, each run single-threaded.
void par_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  const int64_t work = M * N * K;
  const int nt = pool.num_threads();
  if (nt <= 1 || work < (1 << 17)) {
    rnn_gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  constexpr int64_t kPieceWork = 1 << 18;  // OpenBLAS stays single-threaded up to this M*N*K
  int64_t panels = (N + 15) / 16;
  int64_t pieces = std::max<int64_t>(nt, std::min<int64_t>(panels, work / kPieceWork));
  int64_t per = (panels + pieces - 1) / pieces * 16;
  pool.parallel_for(0, pieces, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t n0 = p * per, n1 = std::min(N, n0 + per);
      if (n0 < n1) rnn_gemm(M, n1 - n0, K, A, lda, B + n0, ldb, C + n0, ldc, accumulate);
    }
  });
}

// The input projection of all steps: one product split by rows across the pool.
void xw_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  const int64_t work = M * N * K;
  const int nt = pool.num_threads();
  if (work > (1 << 23)) {
    sgemm(false, false, M, N, K, 1.f, A, K, B, N, 1.f, C, N, pool);
    return;
  }
  if (nt <= 1 || work < (1 << 17) || M < 2 * nt) {
    rnn_gemm(M, N, K, A, K, B, N, C, N, true);
    return;
  }
  int64_t pieces = std::min<int64_t>(M, std::max<int64_t>(nt, (work + (1 << 18) - 1) >> 18));
  int64_t rows = (M + pieces - 1) / pieces;
  pool.parallel_for(0, pieces, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t m0 = p * rows, m1 = std::min(M, m0 + rows);
      if (m0 < m1) rnn_gemm(m1 - m0, N, K, A + m0 * K, K, B, N, C + m0 * N, N, true);
    }
  });
}

}  // namespace r1::cpu
