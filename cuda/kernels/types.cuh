// Element types on the device: how each storage type loads to and stores from float, the
// compute type of every kernel. 16-bit floats are stored as raw uint16_t so the same kernel
// source works with both vendors' half/bfloat16 headers (and with none for bf16).
//
//   template <class T> __global__ void k(const typename T::storage* x, ...) { float v = T::load(x[i]); }
//   dispatch_float_types(t.dtype(), [&](auto tag) { using T = decltype(tag); launch<T>(...); });
#pragma once
#include <cstdint>

#if defined(R1_HIP)
#include <hip/hip_fp16.h>
#else
#include <cuda_fp16.h>
#endif

#include "../vendor.h"
#include "r1/core/dtype.h"

namespace r1::gpu {

struct F32 {
  using storage = float;
  static constexpr DType dtype = DType::Float32;
  __device__ static float load(float v) { return v; }
  __device__ static float store(float v) { return v; }
};

struct F16 {
  using storage = uint16_t;
  static constexpr DType dtype = DType::Float16;
  __device__ static float load(uint16_t v) { return __half2float(__ushort_as_half(v)); }
  __device__ static uint16_t store(float v) { return __half_as_ushort(__float2half_rn(v)); }
};

struct BF16 {
  using storage = uint16_t;
  static constexpr DType dtype = DType::BFloat16;
  __device__ static float load(uint16_t v) { return __uint_as_float(static_cast<uint32_t>(v) << 16); }
  // Round to nearest even; NaN stays a quiet NaN (the rounding add could carry it into inf).
  __device__ static uint16_t store(float f) {
    uint32_t x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
  }
};

// bool outputs (comparisons, IsNaN): r1 stores bool as one byte.
struct Bool {
  using storage = bool;
  static constexpr DType dtype = DType::Bool;
  __device__ static bool store(bool v) { return v; }
};

// Calls f(F32{}), f(F16{}) or f(BF16{}); InputError naming `op` for any other dtype.
template <class F>
void dispatch_float_types(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32:
      f(F32{});
      return;
    case DType::Float16:
      f(F16{});
      return;
    case DType::BFloat16:
      f(BF16{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << op << " on " R1_GPU_BACKEND_NAME " supports float32, float16 and bfloat16, got "
                       << dtype_name(t);
}

template <class T>
typename T::storage* data_of(const Tensor& t) {
  return static_cast<typename T::storage*>(t.raw());
}

// Calls f(U{}) with the unsigned integer type of an element size (1, 2, 4, 8 bytes): kernels that
// only move elements handle every dtype through it.
template <class F>
void dispatch_bytes(size_t es, F&& f) {
  switch (es) {
    case 1:
      f(uint8_t{});
      return;
    case 2:
      f(uint16_t{});
      return;
    case 4:
      f(uint32_t{});
      return;
    case 8:
      f(uint64_t{});
      return;
    default:
      break;
  }
  R1_THROW(InternalError) << "GPU kernels: unsupported element size " << es;
}

}  // namespace r1::gpu
