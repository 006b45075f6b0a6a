// Schemas of the sequence and optional ops: SequenceEmpty, SequenceConstruct, SequenceInsert,
// SequenceAt, SequenceErase, SequenceLength, SplitToSequence, ConcatFromSequence, SequenceMap,
// Optional, OptionalHasElement, OptionalGetElement. Values of these kinds have no shape (graph.h).
#include <string>

#include "r1/ir/graph.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

bool is_seq(ValueKind k) { return k == ValueKind::Sequence || k == ValueKind::OptionalSequence; }

void need_kind(InferContext& c, size_t i, bool sequence) {
  if (!c.has_input(i)) return;
  bool got = is_seq(c.input_kind(i));
  R1_CHECK(got == sequence, ModelError) << c.node().op_type << ": input " << i << " must be a "
                                        << (sequence ? "sequence" : "tensor") << ", got a "
                                        << value_kind_name(c.input_kind(i));
}

void sequence_out(InferContext& c, size_t i, DType t) {
  c.set_output_dtype(i, t);
  c.set_output_kind(i, ValueKind::Sequence);
}

void check_int_scalar(InferContext& c, size_t i, const char* what) {
  if (!c.has_input(i)) return;
  DType t = c.input_dtype(i);
  R1_CHECK(t == DType::Int32 || t == DType::Int64, ModelError)
      << c.node().op_type << ": " << what << " must be int32 or int64, got " << dtype_name(t);
}

void infer_sequence_empty(InferContext& c) {
  int64_t code = c.attrs().get_int("dtype", 1);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(code)), ModelError)
      << "SequenceEmpty: dtype " << code << " is not supported";
  sequence_out(c, 0, static_cast<DType>(code));
}

void infer_sequence_construct(InferContext& c) {
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    need_kind(c, i, false);
    R1_CHECK(c.input_dtype(i) == c.input_dtype(0), ModelError)
        << "SequenceConstruct: inputs of different dtypes (" << dtype_name(c.input_dtype(0)) << ", "
        << dtype_name(c.input_dtype(i)) << ")";
  }
  sequence_out(c, 0, c.input_dtype(0));
}

void infer_sequence_insert(InferContext& c) {
  need_kind(c, 0, true);
  need_kind(c, 1, false);
  R1_CHECK(c.input_dtype(1) == c.input_dtype(0), ModelError)
      << "SequenceInsert: a " << dtype_name(c.input_dtype(1)) << " tensor into a sequence of "
      << dtype_name(c.input_dtype(0));
  check_int_scalar(c, 2, "position");
  sequence_out(c, 0, c.input_dtype(0));
}

void infer_sequence_at(InferContext& c) {
  need_kind(c, 0, true);
  check_int_scalar(c, 1, "position");
  c.set_output_dtype(0, c.input_dtype(0));
}

void infer_sequence_erase(InferContext& c) {
  need_kind(c, 0, true);
  check_int_scalar(c, 1, "position");
  sequence_out(c, 0, c.input_dtype(0));
}

void infer_sequence_length(InferContext& c) {
  need_kind(c, 0, true);
  c.set_output(0, DType::Int64, {});
}

void infer_split_to_sequence(InferContext& c) {
  need_kind(c, 0, false);
  check_int_scalar(c, 1, "split");
  sequence_out(c, 0, c.input_dtype(0));
}

void infer_concat_from_sequence(InferContext& c) {
  need_kind(c, 0, true);
  R1_CHECK(c.attrs().has("axis"), ModelError) << "ConcatFromSequence needs the axis attribute";
  c.set_output_dtype(0, c.input_dtype(0));
}

// Body inputs: an element of each sequence input, each tensor input as it is. Outputs: one sequence per
// body output.
void bind_sequence_map(Node& n, const Graph&) {
  auto body = n.attrs.get_graph("body");
  R1_CHECK(body && body->inputs().size() == n.inputs.size(), ModelError)
      << "node " << n.label() << ": SequenceMap's body takes " << (body ? body->inputs().size() : 0)
      << " inputs, the node feeds " << n.inputs.size();
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    Value* in = body->inputs()[k];
    const Value* v = n.inputs[k];
    if (!v) continue;
    in->dtype = v->dtype;
    in->kind = ValueKind::Tensor;
    in->has_shape = !is_seq(v->kind) && v->has_shape;
    in->shape = in->has_shape ? v->shape : Shape{};
  }
  infer_shapes(*body);
}

void infer_sequence_map(InferContext& c) {
  need_kind(c, 0, true);
  const Graph& body = *c.node().attrs.get_graph("body");
  R1_CHECK(body.outputs().size() == c.num_outputs(), ModelError)
      << "SequenceMap: the body returns " << body.outputs().size() << " values for " << c.num_outputs() << " outputs";
  for (size_t i = 0; i < c.num_outputs(); ++i) sequence_out(c, i, body.outputs()[i]->dtype);
}

// The type attribute arrives from the importer as "<kind>:<dtype>" (optional's element type).
void infer_optional(InferContext& c) {
  ValueKind k = ValueKind::Optional;
  DType t = DType::Undefined;
  if (c.has_input(0)) {
    t = c.input_dtype(0);
    if (is_seq(c.input_kind(0))) k = ValueKind::OptionalSequence;
  } else {
    std::string type = c.attrs().get_string("type", "");
    auto colon = type.find(':');
    R1_CHECK(colon != std::string::npos, ModelError) << "Optional without an input needs the type attribute";
    t = dtype_from_name(type.substr(colon + 1));
    if (type.substr(0, colon) == "sequence") k = ValueKind::OptionalSequence;
  }
  c.set_output_dtype(0, t);
  c.set_output_kind(0, k);
}

void infer_optional_has_element(InferContext& c) { c.set_output(0, DType::Bool, {}); }

void infer_optional_get_element(InferContext& c) {
  c.set_output_dtype(0, c.input_dtype(0));
  c.set_output_kind(0, is_seq(c.input_kind(0)) ? ValueKind::Sequence : ValueKind::Tensor);
}

OpSchema with_body(OpSchema s) {
  s.bind_subgraphs = bind_sequence_map;
  return s;
}

}  // namespace

void register_sequence_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("SequenceEmpty", 0, 0, infer_sequence_empty), 11));
  reg.add(with_opsets(schema("SequenceConstruct", 1, 1 << 20, infer_sequence_construct), 11));
  reg.add(with_opsets(schema("SequenceInsert", 2, 3, infer_sequence_insert), 11));
  reg.add(with_opsets(schema("SequenceAt", 2, 2, infer_sequence_at), 11));
  reg.add(with_opsets(schema("SequenceErase", 1, 2, infer_sequence_erase), 11));
  reg.add(with_opsets(schema("SequenceLength", 1, 1, infer_sequence_length), 11));
  reg.add(with_opsets(schema("SplitToSequence", 1, 2, infer_split_to_sequence), 11));
  reg.add(with_opsets(schema("ConcatFromSequence", 1, 1, infer_concat_from_sequence), 11));
  reg.add(with_body(with_opsets(schema("SequenceMap", 1, 1 << 20, infer_sequence_map, 1, 1 << 20), 17)));
  reg.add(with_opsets(schema("Optional", 0, 1, infer_optional), 15));
  reg.add(with_opsets(schema("OptionalHasElement", 0, 1, infer_optional_has_element), 15));
  reg.add(with_opsets(schema("OptionalGetElement", 1, 1, infer_optional_get_element), 15));
}
}  // namespace r1
