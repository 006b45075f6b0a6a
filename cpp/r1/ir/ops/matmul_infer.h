// Dtype checks and numpy matmul shapes shared by the schemas of MatMul, Gemm, MatMulInteger and Einsum.
#pragma once
#include <string>

#include "r1/ir/ops/infer_util.h"

namespace r1 {

inline void check_numeric(const InferContext& c, size_t i) {
  R1_CHECK(c.input_dtype(i) != DType::Bool, ModelError)
      << c.node().op_type << " of dtype bool is not supported (needs a numeric dtype)";
}

inline void check_same(const InferContext& c, size_t i, size_t j) {
  R1_CHECK(c.input_dtype(i) == c.input_dtype(j), ModelError)
      << c.node().op_type << ": inputs have different dtypes: " << dtype_name(c.input_dtype(i)) << " and "
      << dtype_name(c.input_dtype(j));
}

// Two dims that must agree: a known pair is checked, otherwise the more informative one is kept.
inline int64_t merge_dim(int64_t a, int64_t b, const char* what, const std::string& op) {
  if (is_known(a) && is_known(b)) {
    R1_CHECK(a == b, InputError) << op << ": " << what << " mismatch (" << a << " vs " << b << ")";
    return a;
  }
  if (is_known(a)) return a;
  if (is_known(b)) return b;
  if (is_sym_dim(a)) return a;
  return b;
}

// numpy.matmul shapes: 1-D operands are promoted (and the added dim dropped from the result).
inline Shape matmul_shape(const Shape& a0, const Shape& b0, const std::string& op) {
  R1_CHECK(!a0.empty() && !b0.empty(), InputError)
      << op << ": operands must be at least 1-D (got rank " << a0.size() << " and " << b0.size() << ")";
  Shape a = a0, b = b0;
  bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  merge_dim(a.back(), b[b.size() - 2], "inner dimension", op);
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape out = broadcast_shapes(ab, bb);
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  return out;
}

}  // namespace r1
