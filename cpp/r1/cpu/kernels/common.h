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

}  // namespace r1::cpu
