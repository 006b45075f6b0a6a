// Helpers shared by CPU kernels: broadcasting index maps and parallel loops sized for 2 cores.
//
//   BroadcastMap m(out.shape(), {a.shape(), b.shape()});
//   m.for_each_row(pool, [&](int64_t out_off, const int64_t* in_off, int64_t n, const int64_t* in_step) {...});
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "r1/backend/kernel.h"

namespace r1::cpu {

// Elements per task below which splitting across threads costs more than it saves.
constexpr int64_t kGrainElementwise = 16384;

// Maps each output position to input offsets under numpy broadcasting. Iterates the output in
// rows of its last dimension so inner loops are contiguous (or stride-0) and vectorize.
class BroadcastMap {
 public:
  BroadcastMap(const Shape& out, const std::vector<Shape>& ins);
  int64_t rows() const { return rows_; }
  int64_t row_len() const { return row_len_; }
  // For output row r (0 <= r < rows()), writes each input's starting offset into offs and
  // returns; steps()[k] is input k's stride along the row (0 or 1).
  void row_offsets(int64_t r, int64_t* offs) const;
  const std::vector<int64_t>& steps() const { return steps_; }
  size_t num_inputs() const { return strides_.size(); }

 private:
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;  // per input, per output dim (0 where broadcast)
  std::vector<int64_t> steps_;
  int64_t rows_ = 1, row_len_ = 1;
};

// Strided copy of a tensor into a contiguous destination following a permutation-free
// general stride description (used by Transpose, Expand, Slice).
void copy_strided(const void* src, void* dst, size_t elem_size, const Shape& out_shape,
                  const std::vector<int64_t>& src_strides_elems, ThreadPool& pool);

// Numpy-broadcasts a contiguous float tensor of shape `s` to `out_shape` into the contiguous `dst`
// (fused kernels' residuals). Throws InputError "<what> [s] does not broadcast to [out_shape]".
void broadcast_floats(const float* src, const Shape& s, const Shape& out_shape, float* dst, ThreadPool& pool,
                      const char* what);

// A float32 view of a float tensor: the tensor's own memory for float32, a converted copy for the
// 16-bit floats (kernels that compute in fp32: GEMM, convolution).
struct FloatIn {
  std::vector<float> buf;
  const float* p = nullptr;
};
FloatIn float_input(const Tensor& t, ThreadPool& pool);
// Writes fp32 values into a float tensor of any float dtype (a copy for float32).
void store_float(const float* src, Tensor& out, ThreadPool& pool);
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
