// Schemas and shape inference of the linalg family: MatMul, Gemm, MatMulInteger, Einsum.
#include <map>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/einsum.h"

namespace r1 {
namespace {

void check_numeric(const InferContext& c, size_t i) {
  R1_CHECK(c.input_dtype(i) != DType::Bool, ModelError)
      << c.node().op_type << " of dtype bool is not supported (needs a numeric dtype)";
}

void check_same(const InferContext& c, size_t i, size_t j) {
  R1_CHECK(c.input_dtype(i) == c.input_dtype(j), ModelError)
      << c.node().op_type << ": inputs have different dtypes: " << dtype_name(c.input_dtype(i)) << " and "
      << dtype_name(c.input_dtype(j));
}

// Two dims that must agree: a known pair is checked, otherwise the more informative one is kept.
int64_t merge_dim(int64_t a, int64_t b, const char* what, const std::string& op) {
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
Shape matmul_shape(const Shape& a0, const Shape& b0, const std::string& op) {
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

void infer_matmul(InferContext& c) {
  check_numeric(c, 0);
  check_same(c, 0, 1);
  c.set_output(0, c.input_dtype(0), matmul_shape(c.input_shape(0), c.input_shape(1), "MatMul"));
}

void infer_matmul_integer(InferContext& c) {
  for (size_t i = 0; i < 4; ++i) {
    if (!c.has_input(i)) continue;
    DType t = c.input_dtype(i);
    R1_CHECK(t == DType::Int8 || t == DType::UInt8, ModelError)
        << "MatMulInteger of dtype " << dtype_name(t) << " is not supported (needs int8 or uint8)";
  }
  if (c.has_input(2)) check_same(c, 0, 2);
  if (c.has_input(3)) check_same(c, 1, 3);
  c.set_output(0, DType::Int32, matmul_shape(c.input_shape(0), c.input_shape(1), "MatMulInteger"));
}

void infer_gemm(InferContext& c) {
  check_numeric(c, 0);
  check_same(c, 0, 1);
  if (c.has_input(2)) check_same(c, 0, 2);
  R1_CHECK(!c.attrs().has("broadcast"), ModelError) << "Gemm: the 'broadcast' attribute (opset < 7) is not supported";
  const Shape& a = c.input_shape(0);
  const Shape& b = c.input_shape(1);
  R1_CHECK(a.size() == 2 && b.size() == 2, InputError)
      << "Gemm: A and B must be 2-D (got rank " << a.size() << " and " << b.size() << ")";
  bool ta = c.attrs().get_int("transA", 0) != 0, tb = c.attrs().get_int("transB", 0) != 0;
  int64_t M = ta ? a[1] : a[0], Ka = ta ? a[0] : a[1];
  int64_t N = tb ? b[0] : b[1], Kb = tb ? b[1] : b[0];
  merge_dim(Ka, Kb, "inner dimension", "Gemm");
  Shape out = {M, N};
  if (c.has_input(2) && c.input_has_shape(2)) {
    const Shape& cs = c.input_shape(2);
    R1_CHECK(cs.size() <= 2, InputError) << "Gemm: C must have rank <= 2, got " << cs.size();
    for (size_t i = 0; i < cs.size(); ++i) {
      int64_t d = cs[cs.size() - 1 - i], o = out[1 - i];
      if (is_known(d) && d != 1 && is_known(o))
        R1_CHECK(d == o, InputError) << "Gemm: C of shape " << shape_str(cs) << " does not broadcast to [" << M << ", "
                                     << N << "]";
    }
  }
  c.set_output(0, c.input_dtype(0), out);
}

void infer_einsum(InferContext& c) {
  std::string eq = c.attrs().get_string("equation", "");
  R1_CHECK(!eq.empty(), ModelError) << "Einsum needs an 'equation' attribute";
  std::vector<int> ranks;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    R1_CHECK(c.has_input(i), ModelError) << "Einsum: input " << i << " is missing";
    check_numeric(c, i);
    check_same(c, 0, i);
  }
  for (size_t i = 0; i < c.num_inputs(); ++i) ranks.push_back(c.input_rank(i));
  EinsumSpec spec = parse_einsum(eq, ranks);
  std::map<int, int64_t> size;  // label -> dim (known > 1 wins, then symbolic, then 1)
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const Shape& s = c.input_shape(i);
    for (size_t d = 0; d < s.size(); ++d) {
      int l = spec.inputs[i][d];
      int64_t v = s[d];
      auto it = size.find(l);
      if (it == size.end()) {
        size[l] = v;
        continue;
      }
      int64_t& cur = it->second;
      if (is_known(v) && is_known(cur)) {
        R1_CHECK(v == cur || v == 1 || cur == 1, InputError)
            << "Einsum '" << eq << "': dimension mismatch for a label (" << cur << " vs " << v << ")";
        if (cur == 1) cur = v;
      } else if (is_known(v) && v != 1) {
        cur = v;
      } else if (is_sym_dim(v) && !(is_known(cur) && cur != 1)) {
        cur = v;
      }
    }
  }
  Shape out;
  for (int l : spec.output) out.push_back(size.count(l) ? size[l] : 1);
  c.set_output(0, c.input_dtype(0), out);
}

}  // namespace

void register_linalg_ops(OpRegistry& reg) {
  reg.add(heavy(schema("MatMul", 2, 2, infer_matmul)));
  reg.add(heavy(schema("MatMulInteger", 2, 4, infer_matmul_integer)));
  OpSchema gemm = heavy(schema("Gemm", 2, 3, infer_gemm));
  gemm.since_opset = 7;
  reg.add(gemm);
  OpSchema einsum = schema("Einsum", 1, 1000, infer_einsum);
  einsum.since_opset = 12;
  reg.add(einsum);
}

}  // namespace r1
