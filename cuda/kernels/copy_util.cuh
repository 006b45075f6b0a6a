// Byte-generic copy kernels shared by the GPU kernels that only move elements (transpose, concat_split,
// slice, expand_tile): one instantiation per element size (1, 2, 4, 8 bytes: uint8_t ... uint64_t) serves
// every dtype.
//   - launch_strided: one strided gather: the output is walked in order and element (i0, i1, ...) is read
//     at src + sum(ik * stride[k]) (strides may be 0 or negative). Size-1 dims are dropped and dims
//     contiguous with each other merged first.
//   - launch_copy2d: a 2-D block copy (rows of one chunk), vectorised to the widest word (up to 8 bytes)
//     that divides the chunk, both pitches and both addresses.
#pragma once
#include <cstdint>
#include <vector>

#include "elementwise.cuh"

namespace r1::gpu {

inline size_t esize(const Tensor& t) { return dtype_size(t.dtype()); }

constexpr int kMaxDims = 16;  // Tile doubles the rank; merging usually brings it back down

struct Strided {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t st[kMaxDims] = {};  // element strides into the source, per output dim
};

template <class U>
__global__ void strided_gather(const U* src, U* dst, int64_t n, Strided p) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t q = rest / p.dims[d];
      off += (rest - q * p.dims[d]) * p.st[d];
      rest = q;
    }
    dst[i] = src[off];
  }
}

// dst (contiguous, shape `out`) = src read with element strides `st`. `src` already points at the
// element of output index (0, 0, ...).
inline void launch_strided(const void* src, void* dst, size_t es, const Shape& out, const std::vector<int64_t>& st,
                           gpuStream_t s, const char* op) {
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  if (n == 0) return;
  Strided p;
  std::vector<int64_t> md, ms;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (!md.empty() && ms.back() == st[i] * out[i]) {  // dim i continues the previous one
      md.back() *= out[i];
      ms.back() = st[i];
    } else {
      md.push_back(out[i]);
      ms.push_back(st[i]);
    }
  }
  if (md.empty() || (md.size() == 1 && ms[0] == 1)) {  // a plain contiguous copy
    R1_GPU_CHECK(gpuMemcpyAsync(dst, src, static_cast<size_t>(n) * es, gpuMemcpyDefault, s));
    return;
  }
  R1_CHECK(md.size() <= static_cast<size_t>(kMaxDims), InputError)
      << op << " on " R1_GPU_BACKEND_NAME ": more than " << kMaxDims << " non-mergeable dims";
  p.rank = static_cast<int>(md.size());
  for (int i = 0; i < p.rank; ++i) {
    p.dims[i] = md[i];
    p.st[i] = ms[i];
  }
  dispatch_bytes(es, [&](auto tag) {
    using U = decltype(tag);
    strided_gather<U><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const U*>(src), static_cast<U*>(dst), n, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

template <class U>
__global__ void copy2d_kernel(const U* src, int64_t spitch, U* dst, int64_t dpitch, int64_t rows, int64_t width) {
  const int64_t n = rows * width;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / width, c = i - r * width;
    dst[r * dpitch + c] = src[r * spitch + c];
  }
}

// rows x width_b bytes from src (rows spitch_b apart) to dst (rows dpitch_b apart).
inline void launch_copy2d(const void* src, int64_t spitch_b, void* dst, int64_t dpitch_b, int64_t rows, int64_t width_b,
                          gpuStream_t s) {
  if (rows == 0 || width_b == 0) return;
  const uint64_t bits = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                        static_cast<uint64_t>(spitch_b) | static_cast<uint64_t>(dpitch_b) |
                        static_cast<uint64_t>(width_b);
  const size_t w = (bits & 7) == 0 ? 8 : (bits & 3) == 0 ? 4 : (bits & 1) == 0 ? 2 : 1;
  dispatch_bytes(w, [&](auto tag) {
    using U = decltype(tag);
    const int64_t ws = static_cast<int64_t>(sizeof(U));
    const int64_t width = width_b / ws;
    copy2d_kernel<U><<<blocks_for(rows * width), kThreads, 0, s>>>(static_cast<const U*>(src), spitch_b / ws,
                                                                   static_cast<U*>(dst), dpitch_b / ws, rows, width);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace r1::gpu
