// cuBLASLt kernels for the CUDA backend's MatMul, Gemm and r1::FusedMatMul (deepseek_r1._cublas).
//
//   r1::cublas::register_kernels(hook);   // at import: overrides the three ops on every "cuda" device
//
// Each kernel maps its node onto one cuBLASLt matmul (float32, float16, bfloat16; float32 accumulate,
// TF32 tensor cores for float32 only when set_tf32(true)) with bias and ReLU / tanh-GELU fused
// through CUBLASLT_EPILOGUE_*, and hands everything else to the kernel it replaced (the tiled GEMM of
// _cuda): other activations, broadcast residuals, batch broadcasts cuBLASLt cannot stride, K = 0,
// empty outputs, invalid nodes (whose errors that kernel reports), and shapes for which the cuBLASLt
// heuristic finds no algorithm.
#pragma once
#include <cstddef>
#include <cstdint>

#include "r1/backend/plugin.h"

namespace r1::cublas {

// Registers the kernels through _core's hook (throws DeviceError when the hook refuses).
void register_kernels(const r1_backend_hook* hook);

// Float32 GEMMs on TF32 tensor cores (about 1e-3 relative error) instead of exact float32.
void set_tf32(bool enabled);
bool tf32();

// cublasLtGetVersion() of the library loaded (e.g. 130101 for 13.1.1).
size_t runtime_version();

struct Stats {
  uint64_t cublas_calls = 0;    // nodes run by cuBLASLt
  uint64_t fallback_calls = 0;  // nodes handed to the replaced kernel
  uint64_t cached_plans = 0;    // descriptors + algorithms cached, over all devices
};
Stats stats();
void reset_stats();  // the counters (the plan caches stay)

}  // namespace r1::cublas
