// The one wrapper around BLAS for CPU kernels. With R1_WITH_OPENBLAS (scipy-openblas32, symbols
// prefixed scipy_) GEMM goes to OpenBLAS, kept single-threaded: we split products across our own
// ThreadPool so OpenBLAS's spinning threads never compete with ours for the cores. Without it a
// built-in packed, blocked kernel computes the same results.
//
//   // C[M,N] = 1 * A[M,K] * B[N,K]^T + 0 * C, split across the pool
//   cpu::sgemm(false, true, M, N, K, 1.f, A, K, B, K, 0.f, C, N, ctx.pool());
//   R1_CBLAS(sgemv)(CblasRowMajor, ...);   // direct calls, only where R1_WITH_OPENBLAS is defined
#pragma once
#include <cstdint>

#include "r1/core/thread_pool.h"

#ifdef R1_WITH_OPENBLAS
#include <cblas.h>
#define R1_CBLAS(name) scipy_cblas_##name
#endif

namespace r1::cpu {

// "openblas" or "builtin".
const char* blas_backend();

// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C on the calling thread only. op(A) is A[M,K]
// (lda >= K) or, with transA, A[K,M]^T (lda >= M); likewise op(B) is B[K,N] or B[N,K]^T. With
// beta == 0, C is written without being read (NaNs in it do not propagate).
void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same, split across the pool (by rows of C, or by columns when M is small).
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, ThreadPool& pool);

// `batch` independent products; element offsets between consecutive A, B and C matrices are
// strideA/strideB/strideC (0 shares one matrix across the batch). Parallel over the batch when it
// is large enough, otherwise within each product.
void sgemm_batched(bool transA, bool transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                   float beta, float* C, int64_t ldc, int64_t strideC, ThreadPool& pool);

// Multiply-adds below which a product stays on one thread: waking a parked worker can take tens
// of microseconds in a VM, about what 2^21 multiply-adds take.
constexpr int64_t kGemmParallelWork = int64_t{1} << 21;

}  // namespace r1::cpu
