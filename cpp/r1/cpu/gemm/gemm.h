// The CPU GEMM behind r1::FusedMatMul and MatMul: C = act(alpha * A @ op(B) + bias + residual) with
// the epilogue applied to each output tile while it is still in cache. AVX-512 register kernels
// (fp32 FMA, or bf16 dot products with fp32 accumulation) where the CPU has them, OpenBLAS plus a
// cache-hot epilogue elsewhere; parallel over the engine's ThreadPool.
//
//   gemm::Epilogue ep;  ep.bias = bias;  ep.act = gemm::parse_activation("Gelu");
//   gemm::GemmB b;  b.packed = &view;                    // or b.f32 = W, b.ld = N (b.trans for [N, K])
//   gemm::fused_gemm(M, N, K, A, K, b, gemm::PackedLayout::F32, Y, N, ep, ctx.pool());
#pragma once
#include <cstdint>
#include <string>

#include "r1/core/thread_pool.h"
#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {

// "" (none), "Relu", "Gelu", "GeluTanh", "Sigmoid", "Silu", "Tanh", "HardSigmoid", "HardSwish",
// "Clip", "LeakyRelu"; anything else is a ModelError.
Act parse_activation(const std::string& name);

// B of a product: a packed blob (pack.h) or a plain row-major fp32 matrix [K, N] (or [N, K] with
// trans) with leading dimension ld.
struct GemmB {
  const PackedB* packed = nullptr;
  const float* f32 = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

// C[M, N] (ldc) = epilogue(A[M, K] (lda) @ op(B)). `precision` BF16 rounds A and B to bf16 and
// accumulates in fp32 (a plain B is packed to bf16 for the call; a packed B must match). Without
// AVX512-BF16 the product runs in fp32 on the same bf16-rounded weights.
void fused_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const GemmB& B, PackedLayout precision,
                float* C, int64_t ldc, const Epilogue& ep, ThreadPool& pool);

// True when fused_gemm runs its own AVX-512 kernels here (MatMul routes through it then).
bool fast_gemm_available();

// Caps the ISA fused_gemm uses, for tests of the fallbacks on a machine that has everything:
// "auto" (default), "avx512" (fp32 AVX-512 kernels, no AVX512-BF16) or "baseline" (OpenBLAS).
void set_gemm_isa_limit(const std::string& isa);
// The path fused_gemm takes for `precision` under the current limit and CPU:
// "avx512-bf16", "avx512-fp32" or "baseline".
std::string gemm_path(PackedLayout precision);

// Reference epilogue (portable C++) on a tile of C at (row0, col0); used by the baseline path.
void epilogue_tile_ref(float* c, int64_t ldc, int64_t rows, int64_t cols, int64_t row0, int64_t col0,
                       const Epilogue& ep);

}  // namespace r1::cpu::gemm
