// Copy helpers shared by the CPU kernels that move data (transpose, slice, expand_tile, pad, space_depth,
// concat_split, gather_scatter, one_hot, constant_of_shape, ...): a strided copy engine (copy_util.cc)
// and element-size dispatch, so one instantiation per element size serves every dtype.
#pragma once
#include <cstdint>
#include <vector>

#include "r1/backend/kernel.h"

namespace r1::cpu {

// Bytes per element of t.
inline size_t esize(const Tensor& t) { return dtype_size(t.dtype()); }

// Copies src into contiguous dst of shape `out`, reading element (i0, i1, ...) at
// src + sum(ik * strides[k]) (element strides; may be 0 or negative). Merges contiguous dims,
// uses memcpy rows when the inner stride is 1 and a blocked transpose when the inner two dims
// are swapped.
void strided_copy(const void* src, void* dst, size_t elem_size, const Shape& out, const std::vector<int64_t>& strides,
                  ThreadPool& pool);

// dst = src transposed by perm (out dim i is input dim perm[i]).
void permute_copy(const void* src, void* dst, size_t elem_size, const Shape& in_shape, const std::vector<int64_t>& perm,
                  ThreadPool& pool);

// Calls f(U{}) with an unsigned integer type of the given byte size (1, 2, 4 or 8).
template <class F>
auto dispatch_size(size_t es, F&& f) {
  switch (es) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
    default:
      break;
  }
  R1_THROW(InternalError) << "unsupported element size " << es;
}

// Integer index tensor (int32/int64) element i as int64.
inline int64_t index_at(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::Int64) return t.data<int64_t>()[i];
  return t.data<int32_t>()[i];
}

}  // namespace r1::cpu
