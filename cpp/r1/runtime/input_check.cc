#include "r1/runtime/input_check.h"

#include <algorithm>

namespace r1 {

void check_inputs(const Graph& g, const std::vector<Tensor>& inputs, std::vector<SymbolBinding>* bound) {
  const auto& decl = g.inputs();
  R1_CHECK(inputs.size() == decl.size(), InputError)
      << "the model takes " << decl.size() << " inputs, got " << inputs.size();
  // Models have a handful of symbols: a linear scan.
  bound->clear();
  for (size_t i = 0; i < decl.size(); ++i) {
    const Value* v = decl[i];
    const Tensor& t = inputs[i];
    // A subgraph input compile time could not type (its outer value's type depends on the data) takes any.
    if (v->dtype == DType::Undefined) continue;
    R1_CHECK(t.dtype() == v->dtype, InputError)
        << "input '" << v->name << "' must be " << dtype_name(v->dtype) << ", got " << dtype_name(t.dtype());
    const bool seq_kind = v->kind == ValueKind::Sequence || v->kind == ValueKind::OptionalSequence;
    const bool optional = v->kind == ValueKind::Optional || v->kind == ValueKind::OptionalSequence;
    R1_CHECK(!t.is_none() || optional, InputError) << "input '" << v->name << "' is not optional: it needs a value";
    R1_CHECK(t.is_none() || t.is_sequence() == seq_kind, InputError)
        << "input '" << v->name << "' must be a " << (seq_kind ? "sequence (a list of arrays)" : "tensor") << ", got "
        << t.describe();
    if (!v->has_shape || t.is_sequence() || t.is_none()) continue;  // (subgraph inputs of unknown rank)
    R1_CHECK(t.rank() == static_cast<int>(v->shape.size()), InputError)
        << "input '" << v->name << "' must have shape " << shape_str(v->shape, &g.symbols()) << " (rank "
        << v->shape.size() << "), got " << shape_str(t.shape()) << " (rank " << t.rank() << ")";
    for (int d = 0; d < t.rank(); ++d) {
      int64_t want = v->shape[d], got = t.shape()[d];
      if (is_known(want)) {
        R1_CHECK(want == got, InputError)
            << "input '" << v->name << "' must have shape " << shape_str(v->shape, &g.symbols()) << ", got "
            << shape_str(t.shape()) << " (dim " << d << " must be " << want << ")";
      } else if (is_sym_dim(want)) {
        auto it = std::find_if(bound->begin(), bound->end(), [&](const SymbolBinding& b) { return b.symbol == want; });
        if (it == bound->end()) {
          bound->push_back({want, got, v});
        } else {
          R1_CHECK(it->value == got, InputError)
              << "dim '" << g.symbols()[sym_index(want)] << "' is " << it->value << " in input '" << it->input->name
              << "' but " << got << " in input '" << v->name << "'";
        }
      }
    }
  }
}

}  // namespace r1
