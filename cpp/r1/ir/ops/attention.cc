// Schema of r1::Attention (contract: cpp/r1/passes/README.md):
//   O[B, H, Sq, Dv] = softmax(scale * Q @ Kᵀ + mask) @ V, blockwise with an online softmax.
// qkv_layout / out_layout = "bshd" put S before H in the inputs / the output ([B, S, H, D]).
// Inference works on symbolic dims: known dims are checked against each other, unknown or
// symbolic ones are carried through (the run-time inference checks them again with values).
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void check_float_input(const InferContext& c, size_t i, const char* what) {
  DType t = c.input_dtype(i);
  R1_CHECK(is_float(t), ModelError) << "Attention: " << what << " of dtype " << dtype_name(t)
                                    << " is not supported (needs float32, float16 or bfloat16)";
}

// Two dims that must agree: a known pair is checked, otherwise the more informative one is kept.
int64_t same_dim(int64_t a, int64_t b, const char* what) {
  if (is_known(a) && is_known(b)) {
    R1_CHECK(a == b, InputError) << "Attention: " << what << " mismatch (" << a << " vs " << b << ")";
    return a;
  }
  if (is_known(a)) return a;
  if (is_known(b)) return b;
  return is_sym_dim(a) ? a : b;
}

void infer_attention(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) check_float_input(c, i, i == 0 ? "Q" : i == 1 ? "K" : "V");
  R1_CHECK(c.input_dtype(1) == c.input_dtype(0) && c.input_dtype(2) == c.input_dtype(0), ModelError)
      << "Attention: Q, K and V must share a dtype (got " << dtype_name(c.input_dtype(0)) << ", "
      << dtype_name(c.input_dtype(1)) << ", " << dtype_name(c.input_dtype(2)) << ")";
  if (c.has_input(3)) check_float_input(c, 3, "mask");
  const std::string precision = c.attrs().get_string("precision", "fp32");
  R1_CHECK(precision == "fp32" || precision == "bf16", ModelError)
      << "Attention: precision='" << precision << "' is not supported (fp32 or bf16)";
  const int64_t causal = c.attrs().get_int("causal", 0);
  const int64_t kt = c.attrs().get_int("k_transposed", 0);
  R1_CHECK(causal == 0 || causal == 1, ModelError) << "Attention: causal must be 0 or 1, got " << causal;
  R1_CHECK(kt == 0 || kt == 1, ModelError) << "Attention: k_transposed must be 0 or 1, got " << kt;
  const std::string in_layout = c.attrs().get_string("qkv_layout", "bhsd");
  const std::string out_layout = c.attrs().get_string("out_layout", "bhsd");
  for (const std::string* l : {&in_layout, &out_layout})
    R1_CHECK(*l == "bhsd" || *l == "bshd", ModelError)
        << "Attention: layout '" << *l << "' is not supported (bhsd or bshd)";
  const bool in_bshd = in_layout == "bshd";
  // A transposed K in bshd would be [B, D, H, Sk]; no exporter makes it, and K as [B, Sk, H, D] covers it.
  R1_CHECK(!(in_bshd && kt), ModelError) << "Attention: k_transposed=1 needs qkv_layout='bhsd'";

  const Shape& q = c.input_shape(0);
  const Shape& k = c.input_shape(1);
  const Shape& v = c.input_shape(2);
  R1_CHECK(q.size() == 4 && k.size() == 4 && v.size() == 4, InputError)
      << "Attention: Q, K and V must be 4-D [B, H, S, D] (got ranks " << q.size() << ", " << k.size() << ", "
      << v.size() << ")";
  const int sa = in_bshd ? 1 : 2, ha = in_bshd ? 2 : 1;  // sequence and head axes of Q, K, V
  const int64_t d = same_dim(q[3], kt ? k[2] : k[3], "head size of Q and K");
  const int64_t sk = same_dim(kt ? k[3] : k[sa], v[sa], "key count of K and V");
  (void)d;
  // Numpy broadcasting over the [B, H] dims of Q, K and V.
  Shape bh = broadcast_shapes(broadcast_shapes(Shape{q[0], q[ha]}, Shape{k[0], k[ha]}), Shape{v[0], v[ha]});
  Shape out = out_layout == "bshd" ? Shape{bh[0], q[sa], bh[1], v[3]} : Shape{bh[0], bh[1], q[sa], v[3]};
  if (c.has_input(3)) {
    // The mask must broadcast *to* the score shape: it may not enlarge it.
    const Shape& m = c.input_shape(3);
    R1_CHECK(m.size() <= 4, InputError) << "Attention: mask of rank " << m.size() << " (at most 4)";
    Shape scores{bh[0], bh[1], q[sa], sk};
    Shape b = broadcast_shapes(scores, m);
    for (size_t i = 0; i < 4; ++i)
      R1_CHECK(!is_known(b[i]) || !is_known(scores[i]) || b[i] == scores[i], InputError)
          << "Attention: mask of shape " << shape_str(m) << " does not broadcast to the scores " << shape_str(scores);
  }
  c.set_output(0, c.input_dtype(0), out);
}

}  // namespace

void register_attention_ops(OpRegistry& reg) {
  OpSchema s = heavy(schema("Attention", 3, 4, infer_attention));
  s.domain = "r1";
  reg.add(std::move(s));
}
}  // namespace r1
