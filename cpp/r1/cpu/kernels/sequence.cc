// CPU kernels of the sequence and optional ops. A sequence owns copies of what it holds (Tensor::sequence:
// an element inserted from the arena would be overwritten when its slot is reused), so building one
// copies each inserted tensor once; reading an element is a view of that copy.
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// A position input (negative counts from the end), checked against [0, size) or [0, size] (insert).
int64_t position(KernelContext& ctx, size_t i, int64_t size, int64_t dflt, bool insert) {
  if (!ctx.has_input(i) || ctx.input(i).numel() == 0) return dflt;
  std::vector<int64_t> v = ctx.input(i).to_int64_vector();
  R1_CHECK(v.size() == 1, InputError) << ctx.node().op_type << ": position must be a scalar";
  int64_t p = v[0] < 0 ? v[0] + size : v[0];
  R1_CHECK(p >= 0 && (insert ? p <= size : p < size), InputError)
      << ctx.node().op_type << ": position " << v[0] << " out of range for a sequence of " << size;
  return p;
}

void sequence_empty(KernelContext& ctx) { ctx.set_output(0, Tensor::sequence(ctx.output_dtype(0), {})); }

void sequence_construct(KernelContext& ctx) {
  std::vector<Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) items.push_back(ctx.input(i).clone());
  ctx.set_output(0, Tensor::sequence(ctx.input(0).dtype(), std::move(items)));
}

void sequence_insert(KernelContext& ctx) {
  const Tensor& s = ctx.input(0);
  std::vector<Tensor> items = s.items();
  int64_t n = static_cast<int64_t>(items.size());
  int64_t p = position(ctx, 2, n, n, true);
  items.insert(items.begin() + p, ctx.input(1).clone());
  ctx.set_output(0, Tensor::sequence(s.dtype(), std::move(items)));
}

void sequence_at(KernelContext& ctx) {
  const auto& items = ctx.input(0).items();
  ctx.set_output(0, items[position(ctx, 1, static_cast<int64_t>(items.size()), 0, false)]);
}

void sequence_erase(KernelContext& ctx) {
  const Tensor& s = ctx.input(0);
  std::vector<Tensor> items = s.items();
  int64_t n = static_cast<int64_t>(items.size());
  R1_CHECK(n > 0, InputError) << "SequenceErase: the sequence is empty";
  items.erase(items.begin() + position(ctx, 1, n, n - 1, false));
  ctx.set_output(0, Tensor::sequence(s.dtype(), std::move(items)));
}

void sequence_length(KernelContext& ctx) {
  ctx.output(0).data<int64_t>()[0] = static_cast<int64_t>(ctx.input(0).items().size());
}

// Slices of x along axis: equal parts of split (a scalar), the sizes in split (1-D), or every index
// (no split: keepdims decides whether the axis stays as 1).
void split_to_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int axis = normalize_axis(ctx.attrs().get_int("axis", 0), x.rank(), "SplitToSequence axis");
  const Shape& s = x.shape();
  int64_t len = s[axis], outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < x.rank(); ++i) inner *= s[i];
  std::vector<int64_t> sizes;
  bool keep = true;
  if (ctx.has_input(1) && ctx.input(1).defined()) {
    std::vector<int64_t> v = ctx.input(1).to_int64_vector();
    if (ctx.input(1).rank() == 0) {
      R1_CHECK(v[0] > 0, InputError) << "SplitToSequence: split must be positive, got " << v[0];
      for (int64_t left = len; left > 0; left -= v[0]) sizes.push_back(std::min(v[0], left));
    } else {
      sizes = v;
      int64_t sum = 0;
      for (int64_t z : sizes) sum += z;
      R1_CHECK(sum == len, InputError) << "SplitToSequence: split sums to " << sum << ", the axis is " << len;
    }
  } else {
    sizes.assign(static_cast<size_t>(len), 1);
    keep = ctx.attrs().get_int("keepdims", 1) != 0;
  }
  size_t es = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  std::vector<Tensor> items;
  int64_t start = 0;
  for (int64_t z : sizes) {
    Shape os = s;
    os[axis] = z;
    Tensor t = Tensor::empty(x.dtype(), os);
    for (int64_t o = 0; o < outer; ++o)
      if (z * inner != 0)
        std::memcpy(static_cast<char*>(t.raw()) + o * z * inner * es, src + (o * len + start) * inner * es,
                    z * inner * es);
    if (!keep) os.erase(os.begin() + axis);
    items.push_back(t.reshape(os));
    start += z;
  }
  ctx.set_output(0, Tensor::sequence(x.dtype(), std::move(items)));
}

// The elements joined along axis (new_axis: stacked along a new axis there).
void concat_from_sequence(KernelContext& ctx) {
  const auto& items = ctx.input(0).items();
  R1_CHECK(!items.empty(), InputError) << "ConcatFromSequence: the sequence is empty";
  bool stack = ctx.attrs().get_int("new_axis", 0) != 0;
  const Shape& s0 = items[0].shape();
  int rank = static_cast<int>(s0.size()) + (stack ? 1 : 0);
  int axis = normalize_axis(ctx.attrs().get_int("axis", 0), rank, "ConcatFromSequence axis");
  int64_t outer = 1, inner = 1, total = 0;
  for (int i = 0; i < axis; ++i) outer *= s0[i];
  for (int i = stack ? axis : axis + 1; i < static_cast<int>(s0.size()); ++i) inner *= s0[i];
  for (const Tensor& t : items) {
    R1_CHECK(static_cast<int>(t.shape().size()) == static_cast<int>(s0.size()), InputError)
        << "ConcatFromSequence: elements " << items[0].describe() << " and " << t.describe() << " differ in rank";
    for (size_t d = 0; d < s0.size(); ++d)
      R1_CHECK(stack || static_cast<int>(d) == axis ? (stack ? t.shape()[d] == s0[d] : true) : t.shape()[d] == s0[d],
               InputError)
          << "ConcatFromSequence: elements " << items[0].describe() << " and " << t.describe() << " do not fit";
    total += stack ? 1 : t.shape()[axis];
  }
  Shape os = s0;
  if (stack)
    os.insert(os.begin() + axis, total);
  else
    os[axis] = total;
  Tensor& y = ctx.allocate_output(0, os, items[0].dtype());
  size_t es = dtype_size(y.dtype());
  char* dst = static_cast<char*>(y.raw());
  int64_t at = 0;
  for (const Tensor& t : items) {
    int64_t len = stack ? 1 : t.shape()[axis];
    for (int64_t o = 0; o < outer; ++o)
      if (len * inner != 0)
        std::memcpy(dst + (o * total + at) * inner * es, static_cast<const char*>(t.raw()) + o * len * inner * es,
                    len * inner * es);
    at += len;
  }
}

// Runs the body once per element of the sequence inputs (which must agree in length); tensor inputs go
// to every run as they are. Output j is the sequence of the runs' output j.
void sequence_map(KernelContext& ctx) {
  const auto& body = ctx.attrs().get_graph("body");
  int64_t n = static_cast<int64_t>(ctx.input(0).items().size());
  for (size_t k = 1; k < ctx.num_inputs(); ++k)
    if (ctx.input(k).is_sequence())
      R1_CHECK(static_cast<int64_t>(ctx.input(k).items().size()) == n, InputError)
          << "SequenceMap: input sequences of lengths " << n << " and " << ctx.input(k).items().size();
  std::vector<std::vector<Tensor>> outs(ctx.num_outputs());
  for (int64_t i = 0; i < n; ++i) {
    std::vector<Tensor> ins;
    for (size_t k = 0; k < ctx.num_inputs(); ++k)
      ins.push_back(ctx.input(k).is_sequence() ? ctx.input(k).items()[i] : ctx.input(k));
    std::vector<Tensor> r = ctx.subgraphs().run(body, ins);
    for (size_t j = 0; j < outs.size(); ++j) outs[j].push_back(r[j]);  // in memory of their own already
  }
  for (size_t j = 0; j < outs.size(); ++j) {
    DType t = ctx.output_dtype(j) != DType::Undefined ? ctx.output_dtype(j)
              : outs[j].empty()                       ? DType::Float32
                                                      : outs[j][0].dtype();
    ctx.set_output(j, Tensor::sequence(t, std::move(outs[j])));
  }
}

// Optional(x) is x itself; Optional() is none of the type given.
void optional(KernelContext& ctx) {
  if (ctx.has_input(0)) {
    ctx.set_output(0, ctx.input(0));
    return;
  }
  std::string type = ctx.attrs().get_string("type", "tensor:float32");
  ctx.set_output(0, Tensor::none(ctx.output_dtype(0), type.rfind("sequence", 0) == 0));
}

void optional_has_element(KernelContext& ctx) {
  ctx.output(0).data<bool>()[0] = ctx.has_input(0) && !ctx.input(0).is_none();
}

void optional_get_element(KernelContext& ctx) {
  const Tensor& v = ctx.input(0);
  R1_CHECK(!v.is_none(), InputError) << "OptionalGetElement: the optional is empty";
  ctx.set_output(0, v);
}

}  // namespace

void register_sequence_kernels(KernelTable& t) {
  t.add("SequenceEmpty", sequence_empty);
  t.add("SequenceConstruct", sequence_construct);
  t.add("SequenceInsert", sequence_insert);
  t.add("SequenceAt", sequence_at);
  t.add("SequenceErase", sequence_erase);
  t.add("SequenceLength", sequence_length);
  t.add("SplitToSequence", split_to_sequence);
  t.add("ConcatFromSequence", concat_from_sequence);
  t.add("SequenceMap", sequence_map);
  t.add("Optional", optional);
  t.add("OptionalHasElement", optional_has_element);
  t.add("OptionalGetElement", optional_get_element);
}
}  // namespace r1::cpu
