// Plain-data interface between the GEMM driver (gemm.cc, baseline ISA) and the AVX-512 kernels
// (gemm_avx512.cc). Only PODs and raw pointers cross it: the *_avx512.cc files must not see std
// templates or inline functions that other files also instantiate (see CMakeLists.txt).
//
//   TileArgs t{...};                       // one block of rows x a run of 48-column panels
//   if (cpu_features().avx512_bf16) gemm_block_bf16_avx512(t); else gemm_block_f32_avx512(t);
#pragma once
#include <cstdint>

namespace r1::cpu::gemm {

// Width of a B panel in columns (three 16-float vectors) and the tallest register tile. 8 x 48
// keeps 24 accumulators + 3 B vectors + 1 broadcast in the 32 zmm registers, and 48 divides
// every transformer width we target (384, 768, 1536, 2304, 3072); 8 divides M = 128.
constexpr int64_t kNR = 48;
constexpr int64_t kMR = 8;

// Every epilogue activation, listed once: the enum below and each kernel's dispatch switch expand this
// list, so no switch can miss an activation. GeluFast: erf to ~5e-7 absolute, for bf16 products only.
#define R1_GEMM_ACTIVATIONS(X) \
  X(None)                      \
  X(Relu) X(Gelu) X(GeluTanh) X(Sigmoid) X(Silu) X(Tanh) X(HardSigmoid) X(HardSwish) X(Clip) X(LeakyRelu) X(GeluFast)

#define R1_GEMM_ACT_ENUMERATOR(A) A,
enum class Act : int32_t { R1_GEMM_ACTIVATIONS(R1_GEMM_ACT_ENUMERATOR) };
#undef R1_GEMM_ACT_ENUMERATOR

// Y = act(alpha * acc + bias + residual), applied per output tile right after its last K block.
struct Epilogue {
  float alpha = 1.f;
  Act act = Act::None;
  float act_alpha = 0.f, act_beta = 0.f;
  const float* bias = nullptr;      // [N] or null
  const float* residual = nullptr;  // row r, column j at residual[r * ld_residual + j], or null
  int64_t ld_residual = 0;          // 0: one [N] row shared by every output row
};

// One task of the driver: rows [row0, row0 + rows) x columns [col0, col0 + cols) of C, the columns
// being whole 48-wide panels of B (the last may be partial). Pointers are at the task's corner.
struct TileArgs {
  int64_t rows = 0, cols = 0, k = 0;
  int64_t row0 = 0, col0 = 0;  // where the task sits in C (indexes bias and residual)
  int64_t k_block = 0;         // depth per pass (0: all of K); partial sums go through C between passes
  // fp32 A[rows, k] (lda) for the fp32 kernel; bf16 bits A (lda_bf16 even, >= k, zero in a padding
  // column) for the bf16 kernel.
  const float* a = nullptr;
  int64_t lda = 0;
  const uint16_t* a_bf16 = nullptr;
  int64_t lda_bf16 = 0;
  // B: panel q of the task at b + q * panel_stride (floats, or uint16 for bf16 pairs); K step k
  // (fp32) or pair k/2 (bf16) at + k * ldb within the panel. Packed panels have ldb = 48 (fp32) or
  // 96 (bf16) and are zero past N; an unpacked row-major fp32 B[K, N] is panel_stride = 48, ldb = N
  // (the driver then hands a partial last panel over as a packed copy: reading 48 columns of it
  // could run past the end of B).
  const void* b = nullptr;
  int64_t panel_stride = 0, ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  const Epilogue* ep = nullptr;
};

// One task of the int8 driver (gemm_s8.cc): rows x whole 48-column panels of an int8 packed B, A
// already quantized to uint8 rows. acc = sum_k A_u8 * B_s8 in int32, exact (|acc| < K * 32640, and
// the driver caps K), then per element of the task's C:
//   float out (c):   (acc - a_zero[r] * b_sum[j]) * (a_scale[r] * b_scale[j]), then the epilogue;
//   int32 out (c32): acc - a_zero[r] * b_sum[j]  (MatMulInteger: B as it is, scale 1).
struct TileArgsS8 {
  int64_t rows = 0, cols = 0, kq = 0;  // kq: K in quads (K rounded up to a multiple of 4, zero padded)
  int64_t row0 = 0, col0 = 0;          // where the task sits in C (indexes bias and residual)
  const uint8_t* a = nullptr;          // [rows, 4 kq] at lda bytes per row
  int64_t lda = 0;
  const float* a_scale = nullptr;   // per row of the task
  const int32_t* a_zero = nullptr;  // per row of the task
  const int8_t* b = nullptr;        // the task's first panel; panel q at b + q * panel_stride
  int64_t panel_stride = 0;         // bytes
  const float* b_scale = nullptr;   // per column, from the task's first column
  const int32_t* b_sum = nullptr;   // per column, from the task's first column
  float* c = nullptr;               // float output, or null
  int32_t* c32 = nullptr;           // int32 output, or null
  int64_t ldc = 0;
  const Epilogue* ep = nullptr;  // float output only
};

// The int8 block with AVX512-VNNI (vpdpbusd), and the portable one (same integers, any CPU).
void gemm_block_s8_avx512(const TileArgsS8& t);
// The same block over a 2:4 compressed B (pack.h's S8S24): kq counts blocks of 8 K rows, A's rows hold 8 kq
// bytes (zero padded). Needs AVX512-VBMI besides VNNI.
void gemm_block_s8_2to4_avx512vbmi(const TileArgsS8& t);
// expand_s8_2to4_panel (pack.h) with AVX512-VBMI: the dense kernel's fallback over a 2:4 B, per call.
void expand_s8_2to4_panel_avx512vbmi(const int8_t* sparse, int64_t blocks, int8_t* dense);
// The end of an int8 tile, shared by both VNNI kernels: acc [mr, nr] (ld 48) minus A's zero point times the
// column sums, written at (i0, j0) of the task as int32, or scaled to float with t.ep's epilogue in the same
// pass (C is stored once).
void finish_tile_s8_avx512(const TileArgsS8& t, int64_t i0, int64_t j0, int64_t mr, int64_t nr, const int32_t* acc);
void gemm_block_s8_ref(const TileArgsS8& t);
// Dynamic quantization of fp32 rows to uint8, asymmetric per row (the range always holds 0):
// scale = (max - min) / 255, zero = round(-min / scale), q = clamp(round(x / scale) + zero, 0, 255),
// with x / scale computed as x * (1 / scale) and round-half-even, as the portable twin does. Padding
// columns k <= j < ldq are 0 (their products with B's zero padding vanish).
void quantize_rows_u8_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                             float* scale, int32_t* zero);
void quantize_rows_u8_ref(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq, float* scale,
                          int32_t* zero);
// Quantization with one given scale and zero point (static, or per tensor): q = clamp(round(x / scale) +
// zero, 0, 255), a division as ONNX's QuantizeLinear has it; padding columns 0.
void quantize_rows_u8_fixed_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                                   float scale, int32_t zero);
void quantize_rows_u8_fixed_ref(const float* a, int64_t lda, int64_t rows, int64_t k, uint8_t* q, int64_t ldq,
                                float scale, int32_t zero);
// Lowest and highest value of rows [rows, k] (lda), both starting from 0 (the range always holds 0).
void minmax_rows_avx512(const float* a, int64_t lda, int64_t rows, int64_t k, float* lo, float* hi);

// One task of the int4 driver (gemm_s4.cc): rows x whole 48-column panels of an S4 packed B (pack.h), A
// quantized to uint8 per row and group (its own scale and zero point per 128 values, as the weights have),
// rows padded to whole groups. Per group g and element: acc_g = sum A_u8 * (q + 8) over the group, exact in
// int32; then out = sum_g (b_scale_g[j] * a_scale[r][g]) * (acc_g - 8 a_gsum[r][g] - a_zero[r][g] *
// b_sum_g[j]) (one fma a group), and the epilogue.
struct TileArgsS4 {
  int64_t rows = 0, cols = 0, groups = 0;
  int64_t row0 = 0, col0 = 0;
  const uint8_t* a = nullptr;  // [rows, 128 groups] at lda bytes
  int64_t lda = 0;
  const float* a_scale = nullptr;   // [rows][groups]
  const int32_t* a_zero = nullptr;  // [rows][groups]
  const int32_t* a_gsum = nullptr;  // [rows][groups]: each row's sum of its uint8 values per group
  const uint8_t* b = nullptr;       // the task's first panel; panel q at b + q * panel_stride
  int64_t panel_stride = 0;         // bytes
  const float* b_scale = nullptr;   // group g, column j of the task at b_scale[g * npad + j]
  const int32_t* b_sum = nullptr;   // likewise: the group's sum of q
  int64_t npad = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  const Epilogue* ep = nullptr;
};
void gemm_block_s4_avx512(const TileArgsS4& t);
void gemm_block_s4_ref(const TileArgsS4& t);

// Computes a TileArgs block with the AVX-512F fp32 kernel (A fp32, B fp32 panels).
void gemm_block_f32_avx512(const TileArgs& t);
// Computes a TileArgs block with AVX512-BF16 dot products (A and B bf16 pairs, fp32 accumulation).
void gemm_block_bf16_avx512(const TileArgs& t);
// dst[r * ldd + j] = bf16(src[r * lds + j]) for j < cols, zero for cols <= j < ldd (round to
// nearest even), rows r < rows.
void f32_to_bf16_rows_avx512(const float* src, int64_t lds, uint16_t* dst, int64_t ldd, int64_t rows, int64_t cols);
// The epilogue on a tile of C [rows, cols] at (row0, col0) that is already in cache.
void epilogue_tile_avx512(float* c, int64_t ldc, int64_t rows, int64_t cols, int64_t row0, int64_t col0,
                          const Epilogue& ep);

}  // namespace r1::cpu::gemm
