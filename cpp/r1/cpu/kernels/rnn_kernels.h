// Internal declarations of the rnn family's CPU kernels (rnn.cc drives the steps): the products of
// rnn_gemm.cc and the activation functions of rnn_act.cc.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "r1/core/thread_pool.h"
#include "r1/ir/attribute.h"

namespace r1::cpu {

// Built once for AVX2+FMA and once for the baseline; the loader picks by CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_RNN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define R1_RNN_CLONES
#endif

// C[M,N] = A[M,K] * B[K,N] (+ C when accumulate). Row-major with leading dimensions.
void rnn_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate);

// A per-step product split across the pool in 16-column panels, each run single-threaded.
void par_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc, bool accumulate);

// The input projection of all steps: one product split by rows across the pool.
void xw_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);

enum class ActKind {
  Sigmoid,
  Tanh,
  Relu,
  HardSigmoid,
  Affine,
  LeakyRelu,
  ThresholdedRelu,
  ScaledTanh,
  Elu,
  Softsign,
  Softplus
};

struct Act {
  ActKind kind = ActKind::Sigmoid;
  float alpha = 0.f, beta = 0.f;

  void apply(float* __restrict x, int64_t n) const;
};

// Builds the activation list of every direction. alpha/beta values are consumed in order by the
// activations that take them (as onnxruntime does); missing ones take the ONNX op defaults.
std::vector<Act> parse_activations(const AttributeMap& a, int per_dir, int dirs, const std::vector<std::string>& defs);

}  // namespace r1::cpu
