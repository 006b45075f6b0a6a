// One matmul in our (row-major) terms and its launch on cuBLASLt (cublaslt_plan.cc: the per-device handles
// and plan caches, the row-major to column-major mapping, the counters of stats()). Internal to _cublas:
// cublaslt_gemm.cc maps MatMul, Gemm and r1::FusedMatMul onto a Problem.
#pragma once
#include <cstdint>

#include "r1/backend/kernel.h"
#include "r1/core/dtype.h"

namespace r1::cublas {

enum class Epi : int64_t { None = 0, Relu = 1, GeluTanh = 2 };

// One matmul in our (row-major) terms: Y[M, N] = epi(alpha * op(A) @ op(B) + beta * C + bias), per batch.
struct Problem {
  DType dtype = DType::Float32;
  bool trans_a = false;  // A stored [K, M] (else [M, K])
  bool trans_b = false;  // B stored [N, K] (else [K, N])
  int64_t M = 0, N = 0, K = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_y = 0;  // elements between batches (batch > 1)
  float alpha = 1.f, beta = 0.f;
  Epi epi = Epi::None;
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;     // laid out exactly as Y, scaled by beta; nullptr: none
  const void* bias = nullptr;  // N values added to every row after alpha * AB + beta * C; nullptr: none
  void* y = nullptr;
};

// Enqueues the matmul on the kernel stream; false (nothing enqueued) when cuBLASLt cannot run it.
bool run(KernelContext& ctx, const Problem& p);

// Runs the kernel cuBLASLt replaced (prev) on a node it does not cover, and counts it.
void fall_back(KernelContext& ctx, KernelFn prev, KernelFn self, const char* op);

}  // namespace r1::cublas
