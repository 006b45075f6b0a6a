// Schema of r1::FusedMatMul (contract: cpp/r1/passes/README.md): Y = act(alpha * A @ op(B) + bias +
// residual), Y = A.shape[:-1] + [N]. B is 2-D ([K, N], or [N, K] with trans_b) or, with packed_b=1,
// a uint8 blob whose logical K x N the attrs k, n give.
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

const char* const kActivations[] = {"",     "Relu",        "Gelu",      "GeluTanh", "Sigmoid",  "Silu",
                                    "Tanh", "HardSigmoid", "HardSwish", "Clip",     "LeakyRelu"};

void check_attrs(const InferContext& c) {
  const std::string act = c.attrs().get_string("activation", "");
  bool known = false;
  for (const char* a : kActivations) known |= act == a;
  R1_CHECK(known, ModelError) << "FusedMatMul: unknown activation \"" << act << "\"";
  const std::string prec = c.attrs().get_string("precision", "fp32");
  R1_CHECK(prec == "fp32" || prec == "bf16" || prec == "int8" || prec == "int4", ModelError)
      << "FusedMatMul: precision must be \"fp32\", \"bf16\", \"int8\" or \"int4\", got \"" << prec << "\"";
  // How an int8 product quantizes A: per row (default), per tensor, or with a calibrated scale and
  // zero point (uint8 domain).
  const std::string aq = c.attrs().get_string("act_quant", "row");
  R1_CHECK(aq == "row" || aq == "tensor" || aq == "static", ModelError)
      << "FusedMatMul: act_quant must be \"row\", \"tensor\" or \"static\", got \"" << aq << "\"";
  if (aq == "static") {
    const float scale = c.attrs().get_float("a_scale", 0.f);
    const int64_t zero = c.attrs().get_int("a_zero_point", -1);
    R1_CHECK(scale > 0.f && zero >= 0 && zero <= 255, ModelError)
        << "FusedMatMul: act_quant=\"static\" needs a_scale > 0 and a_zero_point in [0, 255], got " << scale << " and "
        << zero;
  }
}

// Two dims that must agree (K of A and of B): a known pair is checked, else the known one is kept.
void check_inner(int64_t a, int64_t b) {
  if (is_known(a) && is_known(b))
    R1_CHECK(a == b, InputError) << "FusedMatMul: inner dimension mismatch (" << a << " vs " << b << ")";
}

void infer_fused_matmul(InferContext& c) {
  check_attrs(c);
  const DType t = c.input_dtype(0);
  R1_CHECK(is_float(t), ModelError) << "FusedMatMul of dtype " << dtype_name(t) << " is not supported (needs "
                                    << "float32, float16 or bfloat16)";
  const Shape& a = c.input_shape(0);
  R1_CHECK(!a.empty(), InputError) << "FusedMatMul: A must be at least 1-D";
  int64_t n = kUnknownDim;
  if (c.attrs().get_int("packed_b", 0) != 0) {
    R1_CHECK(c.input_dtype(1) == DType::UInt8, ModelError)
        << "FusedMatMul: a packed B (packed_b=1) must be a uint8 blob, got " << dtype_name(c.input_dtype(1));
    const int64_t k = c.attrs().get_int("k", -1);
    n = c.attrs().get_int("n", -1);
    R1_CHECK(k >= 0 && n >= 0, ModelError) << "FusedMatMul: packed_b=1 needs attrs k and n (>= 0)";
    if (c.input_has_shape(1)) R1_CHECK(c.input_rank(1) == 1, ModelError) << "FusedMatMul: a packed B must be 1-D";
    check_inner(a.back(), k);
  } else {
    R1_CHECK(c.input_dtype(1) == t, ModelError)
        << "FusedMatMul: A and B have different dtypes: " << dtype_name(t) << " and " << dtype_name(c.input_dtype(1));
    const Shape& b = c.input_shape(1);
    R1_CHECK(b.size() == 2, InputError) << "FusedMatMul: B must be 2-D (got rank " << b.size() << ")";
    const bool tb = c.attrs().get_int("trans_b", 0) != 0;
    check_inner(a.back(), tb ? b[1] : b[0]);
    n = tb ? b[0] : b[1];
  }
  Shape y(a.begin(), a.end() - 1);
  y.push_back(n);
  if (c.has_input(2)) {
    R1_CHECK(is_float(c.input_dtype(2)), ModelError) << "FusedMatMul: bias must be float";
    if (c.input_has_shape(2)) {
      const Shape& bs = c.input_shape(2);
      const bool fits = bs.size() == 1 && !(is_known(bs[0]) && is_known(n) && bs[0] != n);
      R1_CHECK(fits, InputError) << "FusedMatMul: bias must be 1-D [N] with N=" << n << ", got " << shape_str(bs);
    }
  }
  if (c.has_input(3)) {
    R1_CHECK(is_float(c.input_dtype(3)), ModelError) << "FusedMatMul: residual must be float";
    if (c.input_has_shape(3)) {
      const Shape& rs = c.input_shape(3);
      // numpy broadcasting that leaves Y's shape as it is: each dim of the residual (right-aligned)
      // is 1, equal to Y's, or not known yet
      bool fits = rs.size() <= y.size();
      for (size_t i = 0; fits && i < rs.size(); ++i) {
        const int64_t r = rs[rs.size() - 1 - i], o = y[y.size() - 1 - i];
        fits = !is_known(r) || r == 1 || !is_known(o) || r == o;
      }
      R1_CHECK(fits, InputError) << "FusedMatMul: residual of shape " << shape_str(rs)
                                 << " does not broadcast to the output " << shape_str(y);
    }
  }
  c.set_output(0, t, y);
}

}  // namespace

void register_fused_matmul_ops(OpRegistry& reg) {
  OpSchema s = heavy(schema("FusedMatMul", 2, 4, infer_fused_matmul));
  s.domain = "r1";
  reg.add(s);
}

}  // namespace r1
