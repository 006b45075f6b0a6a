// Schemas of the control-flow ops If, Loop and Scan, whose work is a subgraph (a Graph attribute).
//
// A subgraph reads outer values only through its own inputs, which the node feeds explicitly (ONNX lets a
// subgraph name outer values; the importer turns each such capture into an input of the node and of the
// subgraph, so the outer graph's lifetimes, memory plan and passes see every value a subgraph reads):
//   If:   node inputs [cond, c1..cK]             then_branch / else_branch inputs [c1..cK]
//   Loop: node inputs [M, cond, v1..vN, c1..cK]   body inputs [iter, cond, v1..vN, c1..cK]
//         body outputs [cond, v1..vN, s1..sS]    node outputs [v1..vN final, s1..sS stacked on a new axis 0]
//   Scan: node inputs [v1..vN, x1..xM, c1..cK]   body inputs [v1..vN, x1[t]..xM[t], c1..cK]   (M: num_scan_inputs)
//         body outputs [v1..vN, y1..yS]          node outputs [v1..vN final, y1..yS stacked on their axes]
//   Scan at opset 8: node inputs [sequence_lens, v.., x.., c..], each with a batch axis 0 (and x's sequence on
//         axis 1) that the body does not see; outputs [v final, y] with the batch axis first.
// Loop and Scan map node input i to body input i; If and Scan-8 map node input i + 1 to subgraph input i.
//
// bind_subgraphs (compile time) types each subgraph's inputs from the node's and infers the subgraph; the
// node's inference then reads the subgraph's outputs. At run time it reads them again: an output whose shape
// the subgraph leaves open (it depends on the data, or on a symbolic dim) is shaped by the kernel.
#include "r1/ir/ops/control_flow.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// A shape of `from` in the symbols of `to` (symbols match by name: "batch" outside is "batch" inside).
Shape translate(const Shape& s, const Graph& from, Graph& to) {
  Shape out = s;
  for (int64_t& d : out)
    if (is_sym_dim(d)) d = to.symbol(from.symbols()[sym_index(d)]);
  return out;
}

void type_input(Value* in, DType dtype, const Shape* shape) {
  in->dtype = dtype;
  in->has_shape = shape != nullptr;
  in->shape = shape ? *shape : Shape{};
}

// The outer value `v` typed into subgraph input `in` (rank kept, dims opened when `open_dims`).
void bind_from(Value* in, const Value* v, const Graph& outer, Graph& sub, bool open_dims = false) {
  in->kind = v->kind;
  if (!v->has_shape) return type_input(in, v->dtype, nullptr);
  Shape s = open_dims ? Shape(v->shape.size(), kUnknownDim) : translate(v->shape, outer, sub);
  type_input(in, v->dtype, &s);
}

void check_arity(const Node& n, const std::string& attr, const Graph& sub, size_t want, size_t outs) {
  R1_CHECK(sub.inputs().size() == want, ModelError) << "node " << n.label() << ": subgraph '" << attr << "' has "
                                                    << sub.inputs().size() << " inputs, the node feeds " << want;
  R1_CHECK(sub.outputs().size() == outs, ModelError)
      << "node " << n.label() << ": subgraph '" << attr << "' has " << sub.outputs().size() << " outputs, " << n.op_type
      << " needs " << outs;
}

const Value* need_input(const Node& n, size_t i, const char* what) {
  R1_CHECK(i < n.inputs.size() && n.inputs[i], ModelError) << "node " << n.label() << ": " << what << " is missing";
  return n.inputs[i];
}

void bind_if(Node& n, const Graph& outer) {
  for (auto& [attr, sub] : subgraphs_of(n)) {
    check_arity(n, attr, *sub, n.inputs.size() - 1, n.outputs.size());
    for (size_t k = 0; k < sub->inputs().size(); ++k)
      bind_from(sub->inputs()[k], need_input(n, k + 1, "a captured value"), outer, *sub);
    infer_shapes(*sub);
  }
}

// Forgets what inference said about the values the graph's nodes make (before typing it again from other inputs).
void untype_produced(Graph& g) {
  for (auto& v : g.values())
    if (v->producer) type_input(v.get(), DType::Undefined, nullptr);
}

void bind_loop(Node& n, const Graph& outer) {
  Graph& body = *n.attrs.get_graph("body");
  R1_CHECK(body.inputs().size() == n.inputs.size(), ModelError)
      << "node " << n.label() << ": its body has " << body.inputs().size() << " inputs, the node feeds "
      << n.inputs.size() << " (trip count, condition, loop-carried values and captures)";
  R1_CHECK(body.outputs().size() >= 1 + loop_carried(n), ModelError)
      << "node " << n.label() << ": its body returns " << body.outputs().size()
      << " values, fewer than the condition and " << loop_carried(n) << " loop-carried values";
  Shape scalar;
  type_input(body.inputs()[0], DType::Int64, &scalar);
  type_input(body.inputs()[1], DType::Bool, &scalar);
  const size_t carried = loop_carried(n);
  for (size_t k = 2; k < body.inputs().size(); ++k)
    bind_from(body.inputs()[k], need_input(n, k, "a loop input"), outer, body);
  infer_shapes(body);
  // A loop-carried value may change shape between iterations (a growing sequence): where the body does not
  // return it in the shape it entered with, only its rank is fixed. Type the body again with those dims open.
  bool stable = true;
  for (size_t k = 0; k < carried; ++k) {
    Value* in = body.inputs()[2 + k];
    const Value* out = body.outputs()[1 + k];
    if (in->has_shape && !(out->has_shape && out->shape == in->shape)) {
      bind_from(in, n.inputs[2 + k], outer, body, /*open_dims=*/true);
      stable = false;
    }
  }
  if (stable) return;
  untype_produced(body);
  infer_shapes(body);
}

void bind_scan8(Node& n, const Graph& outer) {
  Graph& body = *n.attrs.get_graph("body");
  R1_CHECK(body.inputs().size() + 1 == n.inputs.size(), ModelError)
      << "node " << n.label() << ": its body has " << body.inputs().size() << " inputs, the node feeds "
      << n.inputs.size() - 1 << " after sequence_lens";
  const size_t carried = loop_carried(n), m = static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0));
  for (size_t k = 0; k < body.inputs().size(); ++k) {
    const Value* v = need_input(n, k + 1, "a Scan input");
    const size_t drop = k < carried ? 1 : k < carried + m ? 2 : 0;  // the batch axis, and the sequence axis
    if (!drop || !v->has_shape) {
      bind_from(body.inputs()[k], v, outer, body);
      continue;
    }
    Shape s = translate(v->shape, outer, body);
    R1_CHECK(s.size() >= drop, ModelError)
        << "node " << n.label() << ": Scan input '" << v->name << "' lacks the batch (and sequence) axes opset 8 needs";
    s.erase(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(drop));
    type_input(body.inputs()[k], v->dtype, &s);
  }
  infer_shapes(body);
}

void bind_scan(Node& n, const Graph& outer) {
  if (is_scan8(n)) return bind_scan8(n, outer);
  Graph& body = *n.attrs.get_graph("body");
  R1_CHECK(body.inputs().size() == n.inputs.size(), ModelError)
      << "node " << n.label() << ": its body has " << body.inputs().size() << " inputs, the node feeds "
      << n.inputs.size();
  const int64_t m = n.attrs.get_int("num_scan_inputs", 0);
  const int64_t carried = static_cast<int64_t>(loop_carried(n));
  std::vector<int64_t> axes = n.attrs.get_ints("scan_input_axes");
  for (size_t k = 0; k < body.inputs().size(); ++k) {
    const Value* v = need_input(n, k, "a Scan input");
    const int64_t j = static_cast<int64_t>(k) - carried;
    if (j < 0 || j >= m || !v->has_shape) {
      bind_from(body.inputs()[k], v, outer, body);
      continue;
    }
    const int rank = static_cast<int>(v->shape.size());
    const int axis = normalize_axis(j < static_cast<int64_t>(axes.size()) ? axes[j] : 0, rank, "scan_input_axes");
    Shape s = translate(v->shape, outer, body);
    s.erase(s.begin() + axis);
    type_input(body.inputs()[k], v->dtype, &s);
  }
  infer_shapes(body);
}

bool all_static(const InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && (!ctx.input_has_shape(i) || !is_static(ctx.input_shape(i)))) return false;
  return true;
}

// Output i from a subgraph value's type: its shape where the subgraph fixes it; at compile time its rank with
// the open dims unknown; at run time (every input static) left to the kernel.
void emit(InferContext& ctx, size_t i, DType dtype, const Value* like, const Shape* prefix = nullptr,
          int insert_at = 0) {
  // Undefined: compile time could not type the subgraph's output; the kernel gives it the type it has.
  if (dtype == DType::Undefined || !like->has_shape) return ctx.set_output_dtype(i, dtype);
  Shape s = like->shape;
  for (int64_t& d : s)
    if (is_sym_dim(d)) d = kUnknownDim;  // the subgraph's own symbols mean nothing outside it
  if (prefix) s.insert(s.begin() + insert_at, prefix->begin(), prefix->end());
  if (is_static(s) || !all_static(ctx))
    ctx.set_output(i, dtype, s);
  else
    ctx.set_output_dtype(i, dtype);
}

void infer_if(InferContext& ctx) {
  const Node& n = ctx.node();
  const auto& then_g = n.attrs.get_graph("then_branch");
  const auto& else_g = n.attrs.get_graph("else_branch");
  R1_CHECK(then_g && else_g, ModelError) << "If needs then_branch and else_branch";
  R1_CHECK(ctx.input_dtype(0) == DType::Bool, ModelError) << "If's condition must be bool";
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    const Value* a = then_g->outputs()[i];
    const Value* b = else_g->outputs()[i];
    R1_CHECK(a->dtype == b->dtype || a->dtype == DType::Undefined || b->dtype == DType::Undefined, ModelError)
        << "If's branches give output " << i << " different dtypes: " << dtype_name(a->dtype) << " and "
        << dtype_name(b->dtype);
    const DType t = a->dtype != DType::Undefined ? a->dtype : b->dtype;
    const bool same = a->has_shape && b->has_shape && a->shape == b->shape && is_static(a->shape);
    if (same && t != DType::Undefined)
      ctx.set_output(i, t, a->shape);
    else
      ctx.set_output_dtype(i, t);  // the branch taken decides (Undefined: and the kernel gives the type)
    R1_CHECK(a->kind == b->kind, ModelError) << "If's branches give output " << i << " as a "
                                             << value_kind_name(a->kind) << " and as a " << value_kind_name(b->kind);
    ctx.set_output_kind(i, a->kind);
  }
}

void infer_loop(InferContext& ctx) {
  const Node& n = ctx.node();
  const Graph& body = *n.attrs.get_graph("body");
  const size_t carried = loop_carried(n);
  R1_CHECK(body.outputs().size() >= 1 + carried, ModelError)
      << "Loop's body must return the condition and " << carried << " loop-carried values";
  R1_CHECK(ctx.num_outputs() == body.outputs().size() - 1, ModelError)
      << "Loop has " << ctx.num_outputs() << " outputs; its body returns " << body.outputs().size() - 1
      << " values besides the condition";
  for (size_t k = 0; k < carried; ++k) {
    if (!ctx.has_output(k)) continue;
    const Value* out = body.outputs()[1 + k];
    const DType t = ctx.input_dtype(2 + k);
    R1_CHECK(out->dtype == DType::Undefined || out->dtype == t, ModelError)
        << "Loop's body returns loop-carried value " << k << " as " << dtype_name(out->dtype) << ", it enters as "
        << dtype_name(t);
    // The final value has the initial one's shape when the body keeps it (it may grow instead).
    const bool kept = out->has_shape && ctx.input_has_shape(2 + k) && out->shape == ctx.input_shape(2 + k);
    if (kept)
      ctx.set_output(k, t, ctx.input_shape(2 + k));
    else
      emit(ctx, k, t, out);
    ctx.set_output_kind(k, ctx.input_kind(2 + k));  // a carried sequence stays one
  }
  for (size_t j = carried; j < ctx.num_outputs(); ++j) {
    if (!ctx.has_output(j)) continue;
    const Value* out = body.outputs()[1 + j];
    const Shape trips{kUnknownDim};  // known once the loop ran: the kernel shapes these at run time
    emit(ctx, j, out->dtype, out, &trips, 0);
  }
}

// Scan's final states have their initial values' types (inputs first .. first + carried - 1).
void states_like_inputs(InferContext& ctx, size_t first, size_t carried) {
  for (size_t k = 0; k < carried; ++k) {
    if (!ctx.has_output(k)) continue;
    if (ctx.input_has_shape(first + k))
      ctx.set_output(k, ctx.input_dtype(first + k), ctx.input_shape(first + k));
    else
      ctx.set_output_dtype(k, ctx.input_dtype(first + k));
  }
}

void infer_scan8(InferContext& ctx) {
  const Node& n = ctx.node();
  const Graph& body = *n.attrs.get_graph("body");
  const size_t carried = loop_carried(n), m = static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0));
  R1_CHECK(m >= 1 && 1 + carried + m <= ctx.num_inputs(), ModelError)
      << "Scan's num_scan_inputs is " << m << " for " << ctx.num_inputs() << " inputs";
  R1_CHECK(ctx.num_outputs() == body.outputs().size(), ModelError)
      << "Scan has " << ctx.num_outputs() << " outputs; its body returns " << body.outputs().size();
  states_like_inputs(ctx, 1, carried);
  Shape pre{kUnknownDim, kUnknownDim};  // batch, sequence
  if (ctx.input_has_shape(1 + carried) && ctx.input_shape(1 + carried).size() >= 2)
    pre = {ctx.input_shape(1 + carried)[0], ctx.input_shape(1 + carried)[1]};
  for (size_t j = carried; j < ctx.num_outputs(); ++j)
    if (ctx.has_output(j)) emit(ctx, j, body.outputs()[j]->dtype, body.outputs()[j], &pre, 0);
}

void infer_scan(InferContext& ctx) {
  const Node& n = ctx.node();
  if (is_scan8(n)) return infer_scan8(ctx);
  const Graph& body = *n.attrs.get_graph("body");
  const int64_t m = n.attrs.get_int("num_scan_inputs", 0);
  const int64_t carried = static_cast<int64_t>(loop_carried(n));
  R1_CHECK(m >= 1 && carried + m <= static_cast<int64_t>(ctx.num_inputs()), ModelError)
      << "Scan's num_scan_inputs is " << m << " for " << ctx.num_inputs() << " inputs";
  R1_CHECK(ctx.num_outputs() == body.outputs().size(), ModelError)
      << "Scan has " << ctx.num_outputs() << " outputs; its body returns " << body.outputs().size();
  // The sequence length: the first scan input's scan axis.
  std::vector<int64_t> in_axes = n.attrs.get_ints("scan_input_axes");
  int64_t len = kUnknownDim;
  if (ctx.input_has_shape(carried)) {
    const Shape& x = ctx.input_shape(carried);
    len = x[normalize_axis(in_axes.empty() ? 0 : in_axes[0], static_cast<int>(x.size()), "scan_input_axes")];
  }
  states_like_inputs(ctx, 0, static_cast<size_t>(carried));
  std::vector<int64_t> out_axes = n.attrs.get_ints("scan_output_axes");
  for (size_t j = carried; j < ctx.num_outputs(); ++j) {
    if (!ctx.has_output(j)) continue;
    const Value* out = body.outputs()[j];
    const size_t e = j - carried;
    if (!out->has_shape) {
      emit(ctx, j, out->dtype, out);
      continue;
    }
    const int rank = static_cast<int>(out->shape.size()) + 1;
    const int axis = normalize_axis(e < out_axes.size() ? out_axes[e] : 0, rank, "scan_output_axes");
    Shape pre{is_known(len) ? len : kUnknownDim};
    emit(ctx, j, out->dtype, out, &pre, axis);
  }
}

}  // namespace

void register_control_flow_ops(OpRegistry& reg) {
  OpSchema s = schema("If", 1, 1 << 20, infer_if, 1, 1 << 20);
  s.bind_subgraphs = bind_if;
  reg.add(s);
  s = schema("Loop", 2, 1 << 20, infer_loop, 1, 1 << 20);
  s.bind_subgraphs = bind_loop;
  reg.add(s);
  s = schema("Scan", 1, 1 << 20, infer_scan, 1, 1 << 20);
  s.since_opset = 8;
  s.bind_subgraphs = bind_scan;
  reg.add(s);
}

}  // namespace r1
