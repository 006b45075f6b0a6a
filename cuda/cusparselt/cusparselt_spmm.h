// cuSPARSELt for r1::FusedMatMul on the CUDA backend (deepseek_r1._cusparselt): a product whose constant weight
// is 2:4 sparse along K (r1.sparsify, or a model fine-tuned that way) runs on the sparse tensor cores.
//
//   r1::cusparselt::register_kernels(hook);   // at import: wraps FusedMatMul on every "cuda" device
//
// Covered: float16 / bfloat16 activations and weights (float32 accumulation), no activation or ReLU, an optional
// bias, no residual, alpha 1. The first call of a weight checks its 2:4 pattern on the device
// (cusparseLtSpMMAPruneCheck2) and compresses it once (cusparseLtSpMMACompress2, kept for the process); a
// weight that is not 2:4, and every node not covered, goes to the kernel this one wraps (cuBLASLt's, or the
// tiled GEMM of _cuda). Plans are cached per weight and row count.
#pragma once
#include <cstdint>

#include "r1/backend/plugin.h"

namespace r1::cusparselt {

void register_kernels(const r1_backend_hook* hook);

struct Stats {
  uint64_t sparse_calls = 0;    // products run by cuSPARSELt
  uint64_t fallback_calls = 0;  // handed to the wrapped kernel
  uint64_t sparse_weights = 0;  // weights found 2:4 and compressed
  uint64_t dense_weights = 0;   // weights found not 2:4
};
Stats stats();
void reset_stats();  // the call counters

}  // namespace r1::cusparselt
