// numpy matmul as batched GEMMs, shared by the MatMul and MatMulInteger kernels (kernels/matmul.cc,
// kernels/matmul_integer.cc): 1-D operands promoted, batch dims broadcast. float32 goes through
// cpu/gemm (our AVX-512 kernels, where present) or blas.h; integer dtypes use a plain loop. A MatMul
// whose B has no batch ([B,S,K] x [K,N]) is one GEMM with M = B*S.
//
//   MatMulPlan p = plan_matmul(a.shape(), b.shape());
//   matmul_f32(p, A, B, C, pool);   // or matmul_int<T>(p, A, B, C, pool)
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "r1/core/shape.h"
#include "r1/core/thread_pool.h"
#include "r1/cpu/gemm/blas.h"

namespace r1::cpu {

// C[M,N] = A[M,K] * B[K,N] for integer types (row-major, contiguous), accumulating in T.
template <class T>
inline void gemm_int(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  for (int64_t i = 0; i < M; ++i) {
    T* __restrict c = C + i * N;
    std::fill(c, c + N, T(0));
    const T* a = A + i * K;
    for (int64_t k = 0; k < K; ++k) {
      T av = a[k];
      if (av == T(0)) continue;
      const T* __restrict b = B + k * N;
      for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + av * b[j]);
    }
  }
}

// The batched products of a numpy matmul: C[b] = A[a_off[b]] * B[b_off[b]], each M x K by K x N.
struct MatMulPlan {
  int64_t M = 0, N = 0, K = 0, batch = 1;
  std::vector<int64_t> a_off, b_off;  // element offsets per output batch
};

MatMulPlan plan_matmul(const Shape& a0, const Shape& b0);

// C[b] = A[a_off[b]] * B[b_off[b]] in float32, parallel over the pool.
void matmul_f32(const MatMulPlan& p, const float* A, const float* B, float* C, ThreadPool& pool);

template <class T>
void matmul_int(const MatMulPlan& p, const T* A, const T* B, T* C, ThreadPool& pool) {
  const int64_t per = p.M * p.N * std::max<int64_t>(p.K, 1);
  // Parallel over (batch, row) pairs: each row is independent.
  int64_t rows = p.batch * p.M;
  int64_t grain = std::max<int64_t>(1, kGemmParallelWork / std::max<int64_t>(per / std::max<int64_t>(p.M, 1), 1));
  pool.parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / p.M, i = r % p.M;
      gemm_int<T>(1, p.N, p.K, A + p.a_off[b] + i * p.K, B + p.b_off[b], C + b * p.M * p.N + i * p.N);
    }
  });
}

}  // namespace r1::cpu
