// Schemas and shape inference of MatMul and Gemm (C = alpha * op(A) op(B) + beta * C).
#include "r1/ir/ops/matmul_infer.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_matmul(InferContext& c) {
  check_numeric(c, 0);
  check_same(c, 0, 1);
  c.set_output(0, c.input_dtype(0), matmul_shape(c.input_shape(0), c.input_shape(1), "MatMul"));
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

}  // namespace

void register_matmul_ops(OpRegistry& reg) {
  reg.add(heavy(schema("MatMul", 2, 2, infer_matmul)));
  OpSchema gemm = heavy(schema("Gemm", 2, 3, infer_gemm));
  gemm.since_opset = 7;
  reg.add(gemm);
}
}  // namespace r1
