// The CPU int8 GEMM behind r1::FusedMatMul at precision="int8" and MatMulInteger: uint8 activations
// x int8 weights packed at compile time (pack.h, layout S8), int32 accumulation that never saturates,
// AVX512-VNNI where the CPU has it and a portable kernel with the same integer results elsewhere.
//
//   // fp32 A, quantized per row on the fly (dynamic quantization), fp32 C with the fused epilogue:
//   gemm::gemm_s8(M, N, K, A, K, view, Y, N, ep, ctx.pool());
//   // uint8 A (zero point za) x int8 B as it is (pack_s8_exact), exact int32 C:
//   gemm::gemm_u8s8_s32(M, N, K, A, K, za, view, Y32, N, ctx.pool());
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "r1/core/thread_pool.h"
#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {

// The deepest K the int32 accumulators hold without overflow: |sum| <= K * 255 * 128 < 2^31.
constexpr int64_t kMaxS8Depth = 65536;

// How A is quantized to uint8 before the product.
struct ActQuant {
  enum Mode { Row, Tensor, Static };
  // Row: each row its own scale and zero point over its range (0 included): this engine's dynamic
  //   quantization, the most accurate. Tensor: one range over all of A, as ONNX's DynamicQuantizeLinear
  //   (models quantized by onnxruntime's quantize_dynamic). Static: the given scale and zero point (a
  //   QDQ model's calibrated QuantizeLinear; an int8 zero point z is given as z + 128).
  Mode mode = Row;
  float scale = 1.f;
  int32_t zero = 0;
};

// C[M, N] (ldc) = epilogue(dequant(quant_u8(A) @ B)), B an S8 packed view, A quantized as `aq` says.
// A 2:4 B (S8S24) runs through the sparse kernel, or through the dense one where that measured faster for the
// shape (sparse_choice.h): over a dense copy of B that `hold` keeps (made once by the make() it is given; the
// caller holds it as long as its weight lives), or, without a holder, over panels expanded per call.
using DenseCopy = std::shared_ptr<const std::vector<int8_t>>;
using DenseCopyHolder = std::function<DenseCopy(const std::function<std::vector<int8_t>()>& make)>;
void gemm_s8(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc,
             const Epilogue& ep, ThreadPool& pool, const ActQuant& aq = ActQuant(),
             const DenseCopyHolder* hold = nullptr);

// C32[M, N] (ldc) = (A - a_zero) @ B exactly, A uint8 [M, K] (lda), B an S8 view packed by
// pack_s8_exact (the weights' own zero point must be 0).
void gemm_u8s8_s32(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda, int32_t a_zero, const PackedB& B,
                   int32_t* C, int64_t ldc, ThreadPool& pool);

// The path the int8 GEMM takes under the ISA limit of gemm.h: "avx512-vnni" or "portable".
std::string gemm_s8_path();
bool s8_vnni_available();
// Whether the 2:4 sparse kernel runs here (AVX512-VNNI and AVX512-VBMI); elsewhere 2:4 weights are expanded.
bool s8_sparse_kernel_available();

// DynamicQuantizeLinear's uint8 scale and zero point for the values of rows [rows, k] (lda): their range with
// 0 in it, scale = (hi - lo) / 255 (1 for all zeros), zero = round(-lo / scale). The int8 GEMM's "tensor" mode
// and the int8 conv's per-image and per-tensor modes use it.
void dynamic_quant_params(const float* a, int64_t lda, int64_t rows, int64_t k, float* scale, int32_t* zero);

}  // namespace r1::cpu::gemm
