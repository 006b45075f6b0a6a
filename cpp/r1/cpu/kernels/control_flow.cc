// If, Loop and Scan: run their subgraphs through the executor's SubgraphRunner (backend/kernel.h), which
// plans each subgraph once per input shape. Which node input feeds which subgraph input is set out in
// ir/ops/control_flow.cc. Loop-carried and Scan state values pass from one iteration to the next as the
// tensors the body returned (no copy); outputs are copied once into the step's planned output memory.
#include <cstring>
#include <limits>

#include "r1/cpu/kernels/copy_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/control_flow.h"

namespace r1::cpu {
namespace {

// Output i becomes a copy of t: in the memory inference planned for it where it said the shape, else allocated.
void emit(KernelContext& ctx, size_t i, const Tensor& t) {
  if (!ctx.has_output(i)) return;
  const DType want = ctx.output_dtype(i);
  R1_CHECK(want == DType::Undefined || want == t.dtype(), ModelError)
      << "output " << i << " should be " << dtype_name(want) << " but the subgraph made " << t.describe();
  if (t.is_sequence() || t.is_none()) {  // its elements live in memory of their own: pass it on
    ctx.set_output(i, t);
    return;
  }
  Tensor* out = nullptr;
  if (ctx.output_shape_known(i)) {
    R1_CHECK(ctx.output_shape(i) == t.shape(), ModelError)
        << "output " << i << " should have shape " << shape_str(ctx.output_shape(i)) << " but the subgraph made "
        << t.describe();
    out = &ctx.output(i);
  } else {
    out = &ctx.allocate_output(i, t.shape(), t.dtype());
  }
  if (t.nbytes()) std::memcpy(out->raw(), t.raw(), t.nbytes());
}

bool scalar_bool(const Tensor& t, const char* what) {
  R1_CHECK(t.dtype() == DType::Bool && t.numel() == 1, InputError) << what << " must be one bool, got " << t.describe();
  return t.data<bool>()[0];
}

Tensor scalar(int64_t v) { return Tensor::from_int64({v}, /*scalar=*/true); }

Tensor scalar(bool v) {
  Tensor t = Tensor::empty(DType::Bool, {});
  t.data<bool>()[0] = v;
  return t;
}

// Element `index` along `axis` of t, as a tensor of its own (rank - 1).
Tensor take_slice(const Tensor& t, int axis, int64_t index) {
  Shape s = t.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t len = s[axis];
  s.erase(s.begin() + axis);
  Tensor out = Tensor::empty(t.dtype(), s);
  const size_t row = static_cast<size_t>(inner) * dtype_size(t.dtype());
  const char* src = static_cast<const char*>(t.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * row, src + (o * len + index) * row, row);
  return out;
}

// The per-iteration tensors `parts` (all one shape) stacked along a new `axis`: part t at position t, or T-1-t
// when `reverse`; positions from parts.size() to `total` (> parts.size(): Scan-8's shorter sequences) are zeros.
// `elem_like` shapes the element when there are no parts (its unknown dims as 0).
Tensor stack(const std::vector<Tensor>& parts, int axis, bool reverse, int64_t total, DType dt,
             const Value* elem_like) {
  const int64_t T = static_cast<int64_t>(parts.size());
  Shape elem;
  if (!parts.empty()) {
    elem = parts[0].shape();
    dt = parts[0].dtype();
  } else if (elem_like && elem_like->has_shape) {
    for (int64_t d : elem_like->shape) elem.push_back(is_known(d) ? d : 0);
  }
  R1_CHECK(dt != DType::Undefined, ModelError) << "a stacked output has no type (no iteration ran to give it one)";
  R1_CHECK(axis >= 0 && axis <= static_cast<int>(elem.size()), ModelError)
      << "output axis " << axis << " is out of range";
  Shape s = elem;
  s.insert(s.begin() + axis, total);
  Tensor out = total > T ? Tensor::zeros(dt, s) : Tensor::empty(dt, s);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= elem[d];
  for (size_t d = axis; d < elem.size(); ++d) inner *= elem[d];
  const size_t row = static_cast<size_t>(inner) * dtype_size(dt);
  char* dst = static_cast<char*>(out.raw());
  for (int64_t t = 0; t < T; ++t) {
    const Tensor& p = parts[t];
    R1_CHECK(p.shape() == elem && p.dtype() == dt, InputError)
        << "iteration " << t << " made " << p.describe() << ", iteration 0 made " << dtype_name(dt) << shape_str(elem)
        << " (stacked outputs keep one shape)";
    const int64_t pos = reverse ? T - 1 - t : t;
    const char* src = static_cast<const char*>(p.raw());
    for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + (o * total + pos) * row, src + o * row, row);
  }
  return out;
}

void if_kernel(KernelContext& ctx) {
  const bool take = scalar_bool(ctx.input(0), "If's condition");
  std::vector<Tensor> ins;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) ins.push_back(ctx.input(i));
  std::vector<Tensor> outs = ctx.subgraphs().run(ctx.attrs().get_graph(take ? "then_branch" : "else_branch"), ins);
  for (size_t i = 0; i < outs.size(); ++i) emit(ctx, i, outs[i]);
}

void loop_kernel(KernelContext& ctx) {
  const Node& n = ctx.node();
  const std::shared_ptr<Graph>& body = n.attrs.get_graph("body");
  const size_t carried = loop_carried(n);
  R1_CHECK(ctx.has_input(0) || ctx.has_input(1), ModelError)
      << "Loop has neither a trip count nor a condition: it would never end";
  int64_t trips = std::numeric_limits<int64_t>::max();
  if (ctx.has_input(0)) {
    const Tensor& m = ctx.input(0);
    R1_CHECK(m.dtype() == DType::Int64 && m.numel() == 1, InputError)
        << "Loop's trip count must be one int64, got " << m.describe();
    trips = m.data<int64_t>()[0];
  }
  bool cond = ctx.has_input(1) ? scalar_bool(ctx.input(1), "Loop's condition") : true;
  std::vector<Tensor> ins(body->inputs().size());
  for (size_t k = 2; k < ins.size(); ++k) ins[k] = ctx.input(k);
  const size_t scans = body->outputs().size() - 1 - carried;
  std::vector<std::vector<Tensor>> stacked(scans);
  for (int64_t it = 0; it < trips && cond; ++it) {
    ins[0] = scalar(it);
    ins[1] = scalar(cond);
    std::vector<Tensor> outs = ctx.subgraphs().run(body, ins);
    cond = scalar_bool(outs[0], "Loop's body condition");
    for (size_t k = 0; k < carried; ++k) {
      R1_CHECK(outs[1 + k].dtype() == ins[2 + k].dtype(), InputError)
          << "Loop's body changed loop-carried value " << k << " from " << dtype_name(ins[2 + k].dtype()) << " to "
          << dtype_name(outs[1 + k].dtype());
      ins[2 + k] = std::move(outs[1 + k]);
    }
    for (size_t j = 0; j < scans; ++j) stacked[j].push_back(std::move(outs[1 + carried + j]));
  }
  for (size_t k = 0; k < carried; ++k) emit(ctx, k, ins[2 + k]);
  for (size_t j = 0; j < scans; ++j) {
    const Value* like = body->outputs()[1 + carried + j];
    emit(ctx, carried + j, stack(stacked[j], 0, false, static_cast<int64_t>(stacked[j].size()), like->dtype, like));
  }
}

struct ScanResult {
  std::vector<Tensor> states;              // final
  std::vector<std::vector<Tensor>> parts;  // per scan output, per iteration
};

// Runs a Scan body over `len` steps: ins holds the states, (scan slots, filled here) and captures in the body's
// input order; scan input j is xs[j], read along axes[j] (from the end where reverse[j]).
ScanResult scan_steps(KernelContext& ctx, const std::shared_ptr<Graph>& body, std::vector<Tensor> ins, size_t carried,
                      const std::vector<Tensor>& xs, const std::vector<int>& axes, const std::vector<char>& reverse,
                      int64_t len) {
  ScanResult r;
  r.parts.resize(body->outputs().size() - carried);
  for (int64_t t = 0; t < len; ++t) {
    for (size_t j = 0; j < xs.size(); ++j) ins[carried + j] = take_slice(xs[j], axes[j], reverse[j] ? len - 1 - t : t);
    std::vector<Tensor> outs = ctx.subgraphs().run(body, ins);
    for (size_t k = 0; k < carried; ++k) ins[k] = std::move(outs[k]);
    for (size_t e = 0; e < r.parts.size(); ++e) r.parts[e].push_back(std::move(outs[carried + e]));
  }
  r.states.assign(ins.begin(), ins.begin() + static_cast<std::ptrdiff_t>(carried));
  return r;
}

std::vector<char> directions(const std::vector<int64_t>& dirs, size_t n) {
  std::vector<char> out(n, 0);
  for (size_t j = 0; j < n && j < dirs.size(); ++j) out[j] = dirs[j] == 1;
  return out;
}

void scan_kernel(KernelContext& ctx) {
  const Node& n = ctx.node();
  const std::shared_ptr<Graph>& body = n.attrs.get_graph("body");
  const size_t carried = loop_carried(n);
  const size_t m = static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0));
  const std::vector<int64_t> in_axes = n.attrs.get_ints("scan_input_axes");
  const std::vector<int64_t> out_axes = n.attrs.get_ints("scan_output_axes");
  std::vector<int> axes(m);
  std::vector<Tensor> xs(m);
  int64_t len = -1;
  for (size_t j = 0; j < m; ++j) {
    xs[j] = ctx.input(carried + j);
    R1_CHECK(xs[j].rank() >= 1, InputError)
        << "Scan input " << j << " must have a sequence axis, got " << xs[j].describe();
    axes[j] = normalize_axis(j < in_axes.size() ? in_axes[j] : 0, xs[j].rank(), "scan_input_axes");
    const int64_t l = xs[j].shape()[axes[j]];
    R1_CHECK(len < 0 || l == len, InputError)
        << "Scan inputs disagree on the sequence length: " << len << " and " << l << " (input " << j << ")";
    len = l;
  }
  std::vector<Tensor> ins(body->inputs().size());
  for (size_t k = 0; k < carried; ++k) ins[k] = ctx.input(k);
  for (size_t k = carried + m; k < ins.size(); ++k) ins[k] = ctx.input(k);
  ScanResult r = scan_steps(ctx, body, std::move(ins), carried, xs, axes,
                            directions(n.attrs.get_ints("scan_input_directions"), m), len);
  for (size_t k = 0; k < carried; ++k) emit(ctx, k, r.states[k]);
  const std::vector<char> out_rev = directions(n.attrs.get_ints("scan_output_directions"), r.parts.size());
  for (size_t e = 0; e < r.parts.size(); ++e) {
    const Value* like = body->outputs()[carried + e];
    const int rank =
        (r.parts[e].empty() ? (like->has_shape ? static_cast<int>(like->shape.size()) : 0) : r.parts[e][0].rank()) + 1;
    const int axis = normalize_axis(e < out_axes.size() ? out_axes[e] : 0, rank, "scan_output_axes");
    emit(ctx, carried + e, stack(r.parts[e], axis, out_rev[e], len, like->dtype, like));
  }
}

// Opset 8's Scan: inputs [sequence_lens?, states, scan inputs, captures], every input with a batch axis 0 and the
// scan inputs' sequence on axis 1; each batch row scans on its own (for its own length), outputs stack by row.
void scan8_kernel(KernelContext& ctx) {
  const Node& n = ctx.node();
  const std::shared_ptr<Graph>& body = n.attrs.get_graph("body");
  const size_t carried = loop_carried(n);
  const size_t m = static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0));
  R1_CHECK(ctx.num_inputs() >= 1 + carried + m, ModelError) << "Scan has too few inputs";
  const Tensor& first = ctx.input(1);
  R1_CHECK(first.rank() >= 1, InputError) << "Scan (opset 8) inputs need a batch axis, got " << first.describe();
  const int64_t batch = first.shape()[0];
  int64_t max_len = 0;
  for (size_t j = 0; j < m; ++j) {
    const Tensor& x = ctx.input(1 + carried + j);
    R1_CHECK(x.rank() >= 2 && x.shape()[0] == batch, InputError)
        << "Scan (opset 8) input " << j << " must be [batch, sequence, ...] with batch " << batch << ", got "
        << x.describe();
    R1_CHECK(j == 0 || x.shape()[1] == max_len, InputError) << "Scan inputs disagree on the sequence length";
    max_len = x.shape()[1];
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (ctx.has_input(0)) {
    const Tensor& sl = ctx.input(0);
    R1_CHECK((sl.dtype() == DType::Int64 || sl.dtype() == DType::Int32) && sl.numel() == batch, InputError)
        << "Scan's sequence_lens must hold one integer per batch row, got " << sl.describe();
    for (int64_t b = 0; b < batch; ++b) {
      lens[b] = sl.dtype() == DType::Int64 ? sl.data<int64_t>()[b] : sl.data<int32_t>()[b];
      R1_CHECK(lens[b] >= 0 && lens[b] <= max_len, InputError)
          << "Scan's sequence_lens[" << b << "] = " << lens[b] << " is outside 0.." << max_len;
    }
  }
  const std::vector<char> rev = directions(n.attrs.get_ints("directions"), m);
  const std::vector<int> axes(m, 0);
  std::vector<std::vector<Tensor>> states(carried), outs(body->outputs().size() - carried);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> ins(body->inputs().size());
    for (size_t k = 0; k < carried; ++k) ins[k] = take_slice(ctx.input(1 + k), 0, b);
    for (size_t k = carried + m; k < ins.size(); ++k) ins[k] = ctx.input(1 + k);
    std::vector<Tensor> xs(m);
    for (size_t j = 0; j < m; ++j) {
      Tensor row = take_slice(ctx.input(1 + carried + j), 0, b);
      // A shorter sequence: its first lens[b] steps (reversed scans start from its own end).
      if (lens[b] < max_len) {
        Shape s = row.shape();
        s[0] = lens[b];
        Tensor part = Tensor::empty(row.dtype(), s);
        if (part.nbytes()) std::memcpy(part.raw(), row.raw(), part.nbytes());
        row = part;
      }
      xs[j] = row;
    }
    ScanResult r = scan_steps(ctx, body, std::move(ins), carried, xs, axes, rev, lens[b]);
    for (size_t k = 0; k < carried; ++k) states[k].push_back(std::move(r.states[k]));
    for (size_t e = 0; e < outs.size(); ++e) {
      const Value* like = body->outputs()[carried + e];
      outs[e].push_back(stack(r.parts[e], 0, false, max_len, like->dtype, like));
    }
  }
  for (size_t k = 0; k < carried; ++k)
    emit(ctx, k, stack(states[k], 0, false, batch, ctx.input(1 + k).dtype(), nullptr));
  for (size_t e = 0; e < outs.size(); ++e) {
    const Value* like = body->outputs()[carried + e];
    emit(ctx, carried + e, stack(outs[e], 0, false, batch, like->dtype, nullptr));
  }
}

void scan_any(KernelContext& ctx) { is_scan8(ctx.node()) ? scan8_kernel(ctx) : scan_kernel(ctx); }

// Control flow reads every input on the host and moves any dtype.
bool any_node(const Node&) { return true; }

}  // namespace

void register_control_flow_kernels(KernelTable& t) {
  t.add("If", if_kernel, "", ~0u, any_node);
  t.add("Loop", loop_kernel, "", ~0u, any_node);
  t.add("Scan", scan_any, "", ~0u, any_node);
}

}  // namespace r1::cpu
