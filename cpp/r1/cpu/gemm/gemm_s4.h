// The CPU int4 GEMM behind r1::FusedMatMul at precision="int4": weights group-wise int4 (pack.h layout S4,
// kS4Group weights per scale along K, packed at compile time), activations quantized to uint8 on each call per
// row and group of kS4Group, int32 sums per group scaled into fp32, then the fused epilogue. Weight-only
// quantization in what is stored and streamed: built for products whose cost is the weights' bytes (a language
// model's decode step), where it reads half of int8's. AVX512-VNNI where the CPU has it, a portable kernel
// with the same integers elsewhere.
//
//   gemm::gemm_s4(M, N, K, A, K, view, Y, N, ep, ctx.pool());
#pragma once
#include <cstdint>

#include "r1/core/thread_pool.h"
#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {

void gemm_s4(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc,
             const Epilogue& ep, ThreadPool& pool);

}  // namespace r1::cpu::gemm
