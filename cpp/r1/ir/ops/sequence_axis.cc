// Schemas of ops over a sequence axis: ReverseSequence and TensorScatter (writes into a KV cache).
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_reverse_sequence(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << "ReverseSequence: input must have rank >= 2, got " << s.size();
  int64_t b = c.attrs().get_int("batch_axis", 1), t = c.attrs().get_int("time_axis", 0);
  R1_CHECK((b == 0 || b == 1) && (t == 0 || t == 1) && b != t, ModelError)
      << "ReverseSequence: batch_axis and time_axis must be 0 and 1 in some order, got " << b << " and " << t;
  R1_CHECK(c.input_dtype(1) == DType::Int64 || c.input_dtype(1) == DType::Int32, ModelError)
      << "ReverseSequence: sequence_lens must be int64";
  c.set_output(0, c.input_dtype(0), s);
}

void infer_tensor_scatter(InferContext& c) {
  const Shape& cache = c.input_shape(0);
  const Shape& upd = c.input_shape(1);
  R1_CHECK(c.input_dtype(0) == c.input_dtype(1), ModelError)
      << "TensorScatter: update has dtype " << dtype_name(c.input_dtype(1)) << ", the cache "
      << dtype_name(c.input_dtype(0));
  R1_CHECK(cache.size() == upd.size(), InputError)
      << "TensorScatter: cache " << shape_str(cache) << " and update " << shape_str(upd) << " differ in rank";
  int axis = normalize_axis(c.attrs().get_int("axis", -2), static_cast<int>(cache.size()), "TensorScatter axis");
  R1_CHECK(axis > 0, InputError) << "TensorScatter: axis must not be the batch axis";
  std::string mode = c.attrs().get_string("mode", "linear");
  R1_CHECK(mode == "linear" || mode == "circular", ModelError)
      << "TensorScatter: mode must be linear or circular, got '" << mode << "'";
  c.set_output(0, c.input_dtype(0), cache);
}

}  // namespace

void register_sequence_axis_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("ReverseSequence", 2, 2, infer_reverse_sequence), 10));
  reg.add(with_opsets(schema("TensorScatter", 2, 3, infer_tensor_scatter), 24));
}
}  // namespace r1
