// The single-threaded GEMM of the CPU convolutions (Conv and r1::FusedConv in kernels/conv_gemm.cc,
// ConvTranspose in kernels/conv_transpose.cc): A is read through row and column strides, so a weight
// matrix and its transpose need no copy. Layouts blas.h takes go to sgemm_serial (OpenBLAS where
// available), the others to a packed 4 x 8 kernel.
#pragma once
#include <cstdint>

namespace r1::cpu {

// Single-threaded C (M x N, row stride ldc) = [C +] A * B with A(i, k) = A[i * a_rs + k * a_cs]
// and B(k, j) = B[k * ldb + j]. accumulate=false overwrites C.
void conv_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                int64_t ldb, float* C, int64_t ldc, bool accumulate);

}  // namespace r1::cpu
