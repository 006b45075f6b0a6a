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

// A float32 view of a float tensor: the tensor's own memory for float32, a converted copy otherwise.
struct FloatIn {
  std::vector<float> buf;
  const float* p = nullptr;
};
FloatIn float_input(const Tensor& t, ThreadPool& pool);
// Output staging: float32 outputs are written in place; 16-bit outputs go through a float buffer
// and are converted by finish().
struct FloatOut {
  Tensor* t = nullptr;
  std::vector<float> buf;
  float* p = nullptr;
  void init(Tensor& out);
  void finish(ThreadPool& pool);
};

}  // namespace r1::cpu
