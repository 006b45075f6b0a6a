// Shape computations shared by the inference of the data-movement ops (ir/ops/views.cc, transpose.cc,
// concat_split.cc, slice.cc, pad.cc define them) and their CPU and GPU kernels, so output shapes and
// kernel index plans have one source.
#pragma once
#include <cstdint>
#include <vector>

#include "r1/core/shape.h"
#include "r1/ir/attribute.h"

namespace r1::shape_ops {

// Reshape: spec entries 0 (copy, unless allowzero), -1 (infer), >0. `in` may be null (unknown rank).
// Dims that cannot be computed are kUnknownDim. Throws InputError when the sizes are incompatible.
Shape reshape_shape(const Shape* in, const std::vector<int64_t>& spec, bool allowzero);

// Squeeze with explicit axes (empty: every dim of size 1; requires known dims).
Shape squeeze_shape(const Shape& in, const std::vector<int64_t>& axes, bool has_axes);
Shape unsqueeze_shape(const Shape& in, const std::vector<int64_t>& axes);
Shape flatten_shape(const Shape& in, int64_t axis);

// Slice plan over every dim of `in`: output dims, and per dim the start index and step.
// axes/steps may be empty (all axes / step 1). Unknown input dims on sliced axes give kUnknownDim.
void slice_plan(const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                const std::vector<int64_t>& axes, const std::vector<int64_t>& steps, Shape* out,
                std::vector<int64_t>* start_per_dim, std::vector<int64_t>* step_per_dim);

// Pad amounts per dim (begin, end) from ONNX pads [b0.., e0..] over `axes` (empty: all dims).
void pad_plan(int rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes, std::vector<int64_t>* begin,
              std::vector<int64_t>* end);

// Split sizes along an axis of length dim for n outputs (split empty: equal chunks).
std::vector<int64_t> split_sizes(int64_t dim, int n, const std::vector<int64_t>& split, bool has_split, int opset);

// Transpose permutation (attribute perm or reversed dims), validated.
std::vector<int64_t> transpose_perm(const AttributeMap& attrs, int rank);

}  // namespace r1::shape_ops
