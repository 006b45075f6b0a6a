// Internal declarations of the conv family's CPU kernels (split over conv*.cc).
#pragma once
#include <cstdint>
#include <vector>

#include "r1/backend/kernel.h"

namespace r1::cpu {

void register_conv_pool_kernels(KernelTable& t);    // conv_pool.cc
void register_conv_resize_kernels(KernelTable& t);  // conv_resize.cc

// Single-threaded C (M x N, row stride ldc) = [C +] A * B with A(i, k) = A[i * a_rs + k * a_cs]
// and B(k, j) = B[k * ldb + j]. accumulate=false overwrites C.
void conv_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                int64_t ldb, float* C, int64_t ldc, bool accumulate);

}  // namespace r1::cpu
