// Schemas and shape inference of the shape family (data movement, indexing, shape queries).
//
// Inference runs at compile time (symbolic dims, only constant inputs have values) and at run
// time (everything known). Data-dependent outputs fall back to a known rank with unknown dims,
// or to dtype only when even the rank depends on data.
#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "r1/ir/ops/shape_infer.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace shape_ops {

Shape reshape_shape(const Shape* in, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int neg = -1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t v = spec[i];
    if (v == 0 && !allowzero) {
      if (!in) {
        out[i] = kUnknownDim;
      } else {
        R1_CHECK(i < in->size(), InputError)
            << "Reshape: shape entry " << i << " is 0 (copy) but the input has rank " << in->size();
        out[i] = (*in)[i];
      }
    } else if (v == -1) {
      R1_CHECK(neg < 0, ModelError) << "Reshape: shape has more than one -1";
      neg = static_cast<int>(i);
      out[i] = kUnknownDim;
    } else {
      R1_CHECK(v >= 0, ModelError) << "Reshape: invalid shape entry " << v;
      if (v == 0) has_zero = true;
      out[i] = v;
    }
  }
  R1_CHECK(!(allowzero && has_zero && neg >= 0), ModelError) << "Reshape: allowzero shape has both 0 and -1";
  if (!in) return out;
  // Cancel symbolic dims that appear on both sides, then compare known products.
  std::map<int64_t, int> syms;
  bool in_unknown = false;
  int64_t in_prod = 1;
  for (int64_t d : *in) {
    if (is_known(d))
      in_prod *= d;
    else if (is_sym_dim(d))
      syms[d]++;
    else
      in_unknown = true;
  }
  bool out_unknown = false;
  int64_t out_prod = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int>(i) == neg) continue;
    int64_t d = out[i];
    if (is_known(d)) {
      out_prod *= d;
    } else if (is_sym_dim(d) && syms[d] > 0) {
      syms[d]--;
    } else {
      out_unknown = true;
    }
  }
  bool leftover_sym = false;
  for (auto& kv : syms)
    if (kv.second) leftover_sym = true;
  if (in_unknown || out_unknown) return out;
  if (neg >= 0) {
    if (leftover_sym) return out;
    if (out_prod == 0) {
      R1_CHECK(in_prod == 0, InputError) << "Reshape: cannot infer -1 for " << shape_str(*in) << " with a 0 dim";
      out[neg] = 0;
    } else {
      R1_CHECK(in_prod % out_prod == 0, InputError)
          << "Reshape: cannot reshape " << shape_str(*in) << " into " << shape_str(spec);
      out[neg] = in_prod / out_prod;
    }
  } else if (!leftover_sym) {
    R1_CHECK(in_prod == out_prod, InputError)
        << "Reshape: cannot reshape " << shape_str(*in) << " (" << in_prod << " elements) into " << shape_str(out);
  }
  return out;
}

Shape squeeze_shape(const Shape& in, const std::vector<int64_t>& axes, bool has_axes) {
  int r = static_cast<int>(in.size());
  std::vector<bool> drop(r, false);
  if (has_axes) {
    for (int64_t a : axes) {
      int ax = normalize_axis(a, r, "Squeeze axis");
      R1_CHECK(!is_known(in[ax]) || in[ax] == 1, InputError)
          << "Squeeze: dim " << ax << " of " << shape_str(in) << " is not 1";
      drop[ax] = true;
    }
  } else {
    for (int i = 0; i < r; ++i) drop[i] = in[i] == 1;
  }
  Shape out;
  for (int i = 0; i < r; ++i)
    if (!drop[i]) out.push_back(in[i]);
  return out;
}

Shape unsqueeze_shape(const Shape& in, const std::vector<int64_t>& axes) {
  int r = static_cast<int>(in.size() + axes.size());
  std::vector<bool> ins(r, false);
  for (int64_t a : axes) {
    int ax = normalize_axis(a, r, "Unsqueeze axis");
    R1_CHECK(!ins[ax], ModelError) << "Unsqueeze: repeated axis " << a;
    ins[ax] = true;
  }
  Shape out(r);
  size_t k = 0;
  for (int i = 0; i < r; ++i) out[i] = ins[i] ? 1 : in[k++];
  return out;
}

static int64_t prod_range(const Shape& s, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) {
    if (!is_known(s[i])) return kUnknownDim;
    p *= s[i];
  }
  return p;
}

Shape flatten_shape(const Shape& in, int64_t axis) {
  int r = static_cast<int>(in.size());
  int64_t a = axis < 0 ? axis + r : axis;
  R1_CHECK(a >= 0 && a <= r, InputError) << "Flatten: axis " << axis << " out of range for rank " << r;
  Shape out{prod_range(in, 0, a), prod_range(in, a, r)};
  // A single symbolic dim on one side keeps its symbol.
  if (a == 1 && !is_known(in[0])) out[0] = in[0];
  if (a == r - 1 && r >= 1 && !is_known(in[r - 1])) out[1] = in[r - 1];
  return out;
}

void slice_plan(const Shape& in, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                const std::vector<int64_t>& axes_in, const std::vector<int64_t>& steps_in, Shape* out,
                std::vector<int64_t>* start_per_dim, std::vector<int64_t>* step_per_dim) {
  int r = static_cast<int>(in.size());
  R1_CHECK(starts.size() == ends.size(), InputError)
      << "Slice: starts has " << starts.size() << " entries but ends has " << ends.size();
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  R1_CHECK(axes.size() == starts.size(), InputError) << "Slice: axes and starts differ in length";
  R1_CHECK(steps_in.empty() || steps_in.size() == starts.size(), InputError)
      << "Slice: steps and starts differ in length";
  *out = in;
  start_per_dim->assign(r, 0);
  step_per_dim->assign(r, 1);
  std::vector<bool> seen(r, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    int ax = normalize_axis(axes[i], r, "Slice axis");
    R1_CHECK(!seen[ax], InputError) << "Slice: repeated axis " << axes[i];
    seen[ax] = true;
    int64_t step = steps_in.empty() ? 1 : steps_in[i];
    R1_CHECK(step != 0, InputError) << "Slice: step must not be 0";
    (*step_per_dim)[ax] = step;
    int64_t dim = in[ax];
    int64_t s = starts[i], e = ends[i];
    if (!is_known(dim)) {
      // Full slice keeps the (symbolic) dim.
      if (step == 1 && s == 0 && e >= INT32_MAX) continue;
      (*out)[ax] = kUnknownDim;
      continue;
    }
    if (s < 0) s += dim;
    if (e < 0) e = (e < INT64_MIN + dim) ? -1 : e + dim;
    int64_t len;
    if (dim == 0) {
      len = 0;
    } else if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      len = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      len = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    (*out)[ax] = len;
    (*start_per_dim)[ax] = len > 0 ? s : 0;
  }
}

void pad_plan(int rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes_in,
              std::vector<int64_t>* begin, std::vector<int64_t>* end) {
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (int i = 0; i < rank; ++i) axes.push_back(i);
  R1_CHECK(pads.size() == 2 * axes.size(), InputError)
      << "Pad: pads has " << pads.size() << " entries, expected " << 2 * axes.size();
  begin->assign(rank, 0);
  end->assign(rank, 0);
  size_t n = axes.size();
  for (size_t i = 0; i < n; ++i) {
    int ax = normalize_axis(axes[i], rank, "Pad axis");
    (*begin)[ax] = pads[i];
    (*end)[ax] = pads[i + n];
  }
}

std::vector<int64_t> split_sizes(int64_t dim, int n, const std::vector<int64_t>& split, bool has_split, int opset) {
  if (has_split) {
    R1_CHECK(static_cast<int>(split.size()) == n, ModelError)
        << "Split: split has " << split.size() << " entries but the node has " << n << " outputs";
    int64_t sum = 0;
    for (int64_t s : split) {
      R1_CHECK(s >= 0, ModelError) << "Split: negative split size " << s;
      sum += s;
    }
    R1_CHECK(!is_known(dim) || sum == dim, InputError)
        << "Split: split sizes sum to " << sum << " but the axis has length " << dim;
    return split;
  }
  if (!is_known(dim)) return std::vector<int64_t>(n, kUnknownDim);
  if (opset >= 18) {
    int64_t chunk = (dim + n - 1) / n;
    std::vector<int64_t> out(n);
    int64_t left = dim;
    for (int i = 0; i < n; ++i) {
      out[i] = std::min(chunk, left);
      left -= out[i];
    }
    return out;
  }
  R1_CHECK(dim % n == 0, InputError) << "Split: axis length " << dim << " is not divisible into " << n << " outputs";
  return std::vector<int64_t>(n, dim / n);
}

std::vector<int64_t> transpose_perm(const AttributeMap& attrs, int rank) {
  std::vector<int64_t> perm = attrs.get_ints("perm");
  if (perm.empty() && !attrs.has("perm")) {
    perm.resize(rank);
    for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
    return perm;
  }
  R1_CHECK(static_cast<int>(perm.size()) == rank, InputError)
      << "Transpose: perm has " << perm.size() << " entries for an input of rank " << rank;
  std::vector<bool> seen(rank, false);
  for (auto& p : perm) {
    p = normalize_axis(p, rank, "Transpose perm entry");
    R1_CHECK(!seen[p], ModelError) << "Transpose: perm repeats axis " << p;
    seen[p] = true;
  }
  return perm;
}

}  // namespace shape_ops

namespace {
using namespace shape_ops;

// The static length of a 1-D input (e.g. a shape tensor), or -1.
int64_t static_len(InferContext& c, size_t i) {
  if (!c.input_has_shape(i)) return -1;
  const Shape& s = c.input_shape(i);
  if (s.size() == 0) return 1;
  if (s.size() != 1 || !is_known(s[0])) return -1;
  return s[0];
}

void set_unknown_rank(InferContext& c, size_t out, DType t, int64_t rank) {
  if (rank < 0)
    c.set_output_dtype(out, t);
  else
    c.set_output(out, t, Shape(rank, kUnknownDim));
}

void infer_reshape(InferContext& c) {
  DType t = c.input_dtype(0);
  bool allowzero = c.opset() >= 14 && c.attrs().get_int("allowzero", 0) != 0;
  std::vector<int64_t> spec;
  if (!c.input_ints(1, &spec)) {
    set_unknown_rank(c, 0, t, static_len(c, 1));
    return;
  }
  const Shape* in = c.input_has_shape(0) ? &c.input_shape(0) : nullptr;
  c.set_output(0, t, reshape_shape(in, spec, allowzero));
}

void infer_flatten(InferContext& c) {
  c.set_output(0, c.input_dtype(0), flatten_shape(c.input_shape(0), c.attrs().get_int("axis", 1)));
}

void infer_squeeze(InferContext& c) {
  DType t = c.input_dtype(0);
  std::vector<int64_t> axes;
  bool has_axes;
  if (c.opset() >= 13) {
    has_axes = c.has_input(1);
    if (has_axes && !c.input_ints(1, &axes)) {
      int64_t n = static_len(c, 1);
      if (n >= 0 && c.input_has_shape(0))
        set_unknown_rank(c, 0, t, c.input_rank(0) - n);
      else
        c.set_output_dtype(0, t);
      return;
    }
  } else {
    has_axes = c.attrs().has("axes");
    axes = c.attrs().get_ints("axes");
  }
  const Shape& in = c.input_shape(0);
  if (!has_axes && !is_static(in)) {
    c.set_output_dtype(0, t);
    return;
  }
  c.set_output(0, t, squeeze_shape(in, axes, has_axes));
}

void infer_unsqueeze(InferContext& c) {
  DType t = c.input_dtype(0);
  std::vector<int64_t> axes;
  if (c.opset() >= 13) {
    if (!c.input_ints(1, &axes)) {
      int64_t n = static_len(c, 1);
      if (n >= 0 && c.input_has_shape(0))
        set_unknown_rank(c, 0, t, c.input_rank(0) + n);
      else
        c.set_output_dtype(0, t);
      return;
    }
  } else {
    axes = c.attrs().get_ints("axes");
    R1_CHECK(c.attrs().has("axes"), ModelError) << "Unsqueeze needs the axes attribute before opset 13";
  }
  c.set_output(0, t, unsqueeze_shape(c.input_shape(0), axes));
}

void infer_dropout(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& s = c.input_shape(0);
  if (c.opset() >= 12 && c.has_input(2)) {
    std::vector<int64_t> tm;
    // A training_mode fed at run time could ask for random masks; only constants are accepted.
    R1_CHECK(c.input_ints(2, &tm), ModelError)
        << "Dropout with a non-constant training_mode input is not supported (inference engine)";
    if (!tm.empty() && tm[0] != 0) {
      double ratio = 0.5;
      if (const Tensor* r = c.input_value(1)) ratio = r->scalar_as_double(0);
      R1_CHECK(ratio == 0.0, ModelError) << "Dropout in training mode is not supported (inference engine)";
    }
  }
  c.set_output(0, t, s);
  if (c.num_outputs() > 1) c.set_output(1, DType::Bool, s);
}

void infer_transpose(InferContext& c) {
  const Shape& in = c.input_shape(0);
  int r = static_cast<int>(in.size());
  std::vector<int64_t> perm = transpose_perm(c.attrs(), r);
  Shape out(r);
  for (int i = 0; i < r; ++i) out[i] = in[perm[i]];
  c.set_output(0, c.input_dtype(0), out);
}

void infer_concat(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(c.attrs().has("axis"), ModelError) << "Concat needs the axis attribute";
  int64_t axis_attr = c.attrs().get_int("axis", 0);
  const Shape* first = nullptr;
  Shape out;
  int ax = 0;
  int64_t total = 0;
  bool total_known = true;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.has_input(i)) continue;
    R1_CHECK(c.input_dtype(i) == t, ModelError)
        << "Concat: inputs have different dtypes: " << dtype_name(t) << " and " << dtype_name(c.input_dtype(i));
    const Shape& s = c.input_shape(i);
    if (!first) {
      first = &s;
      out = s;
      ax = normalize_axis(axis_attr, static_cast<int>(s.size()), "Concat axis");
    } else {
      R1_CHECK(s.size() == out.size(), InputError)
          << "Concat: inputs have different ranks: " << shape_str(*first) << " and " << shape_str(s);
      for (size_t d = 0; d < s.size(); ++d) {
        if (static_cast<int>(d) == ax) continue;
        if (is_known(s[d]) && is_known(out[d])) {
          R1_CHECK(s[d] == out[d], InputError) << "Concat: input shapes " << shape_str(*first) << " and "
                                               << shape_str(s) << " differ outside axis " << ax;
        } else if (!is_known(out[d]) && (is_known(s[d]) || is_sym_dim(s[d]))) {
          out[d] = s[d];
        }
      }
    }
    if (is_known(s[ax]))
      total += s[ax];
    else
      total_known = false;
  }
  R1_CHECK(first != nullptr, ModelError) << "Concat needs at least one input";
  out[ax] = total_known ? total : kUnknownDim;
  c.set_output(0, t, out);
}

void infer_split(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& in = c.input_shape(0);
  int ax = normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(in.size()), "Split axis");
  int n = static_cast<int>(c.num_outputs());
  if (c.opset() >= 18 && c.attrs().has("num_outputs")) {
    int64_t no = c.attrs().get_int("num_outputs", n);
    R1_CHECK(no == n, ModelError) << "Split: num_outputs is " << no << " but the node has " << n << " outputs";
  }
  std::vector<int64_t> split;
  bool has_split = false;
  if (c.opset() >= 13) {
    if (c.has_input(1)) {
      has_split = true;
      if (!c.input_ints(1, &split)) {
        for (int i = 0; i < n; ++i) {
          Shape s = in;
          s[ax] = kUnknownDim;
          c.set_output(i, t, s);
        }
        return;
      }
    }
  } else if (c.attrs().has("split")) {
    has_split = true;
    split = c.attrs().get_ints("split");
  }
  std::vector<int64_t> sizes = split_sizes(in[ax], n, split, has_split, c.opset());
  for (int i = 0; i < n; ++i) {
    Shape s = in;
    s[ax] = sizes[i];
    c.set_output(i, t, s);
  }
}

void infer_slice(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& in = c.input_shape(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset() < 10) {
    starts = c.attrs().get_ints("starts");
    ends = c.attrs().get_ints("ends");
    axes = c.attrs().get_ints("axes");
  } else {
    bool ok = c.input_ints(1, &starts) && c.input_ints(2, &ends);
    if (c.has_input(3)) ok = ok && c.input_ints(3, &axes);
    if (c.has_input(4)) ok = ok && c.input_ints(4, &steps);
    if (!ok) {
      c.set_output(0, t, Shape(in.size(), kUnknownDim));
      return;
    }
  }
  Shape out;
  std::vector<int64_t> st, sp;
  slice_plan(in, starts, ends, axes, steps, &out, &st, &sp);
  c.set_output(0, t, out);
}

void infer_gather(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  DType it = c.input_dtype(1);
  R1_CHECK(it == DType::Int32 || it == DType::Int64, ModelError) << "Gather: indices must be int32 or int64";
  int r = static_cast<int>(d.size());
  int ax = normalize_axis(c.attrs().get_int("axis", 0), r, "Gather axis");
  Shape out(d.begin(), d.begin() + ax);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), d.begin() + ax + 1, d.end());
  c.set_output(0, c.input_dtype(0), out);
}

void infer_gather_elements(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  R1_CHECK(d.size() == idx.size(), InputError)
      << "GatherElements: data " << shape_str(d) << " and indices " << shape_str(idx) << " have different ranks";
  normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(d.size()), "GatherElements axis");
  c.set_output(0, c.input_dtype(0), idx);
}

void infer_gather_nd(InferContext& c) {
  const Shape& d = c.input_shape(0);
  const Shape& idx = c.input_shape(1);
  int64_t b = c.opset() >= 12 ? c.attrs().get_int("batch_dims", 0) : 0;
  R1_CHECK(!idx.empty(), InputError) << "GatherND: indices must have rank >= 1";
  int64_t k = idx.back();
  R1_CHECK(b >= 0 && b < static_cast<int64_t>(idx.size()) && b < static_cast<int64_t>(d.size()), ModelError)
      << "GatherND: invalid batch_dims " << b;
  Shape out(idx.begin(), idx.end() - 1);
  if (!is_known(k)) {
    c.set_output_dtype(0, c.input_dtype(0));
    return;
  }
  R1_CHECK(b + k <= static_cast<int64_t>(d.size()), InputError)
      << "GatherND: index tuples of length " << k << " exceed data rank " << d.size();
  out.insert(out.end(), d.begin() + b + k, d.end());
  c.set_output(0, c.input_dtype(0), out);
}

void check_reduction(InferContext& c, const char* op) {
  std::string red = c.attrs().get_string("reduction", "none");
  R1_CHECK(red == "none" || red == "add" || red == "mul" || red == "max" || red == "min", ModelError)
      << op << ": reduction '" << red << "' is not supported";
}

void infer_scatter_nd(InferContext& c) {
  check_reduction(c, "ScatterND");
  c.set_output(0, c.input_dtype(0), c.input_shape(0));
}

void infer_scatter_elements(InferContext& c) {
  check_reduction(c, "ScatterElements");
  const Shape& d = c.input_shape(0);
  normalize_axis(c.attrs().get_int("axis", 0), static_cast<int>(d.size()), "ScatterElements axis");
  c.set_output(0, c.input_dtype(0), d);
}

void infer_expand(InferContext& c) {
  DType t = c.input_dtype(0);
  std::vector<int64_t> spec;
  if (!c.input_ints(1, &spec)) {
    int64_t n = static_len(c, 1);
    if (n >= 0 && c.input_has_shape(0))
      n = std::max<int64_t>(n, c.input_rank(0));
    else
      n = -1;
    set_unknown_rank(c, 0, t, n);
    return;
  }
  for (int64_t v : spec) R1_CHECK(v >= 0, InputError) << "Expand: negative dim " << v << " in shape";
  c.set_output(0, t, broadcast_shapes(c.input_shape(0), spec));
}

void infer_tile(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& in = c.input_shape(0);
  std::vector<int64_t> rep;
  if (!c.input_ints(1, &rep)) {
    c.set_output(0, t, Shape(in.size(), kUnknownDim));
    return;
  }
  R1_CHECK(rep.size() == in.size(), InputError)
      << "Tile: repeats has " << rep.size() << " entries for an input of rank " << in.size();
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    R1_CHECK(rep[i] >= 0, InputError) << "Tile: negative repeat " << rep[i];
    if (is_known(in[i]))
      out[i] = in[i] * rep[i];
    else
      out[i] = rep[i] == 1 ? in[i] : (rep[i] == 0 ? 0 : kUnknownDim);
  }
  c.set_output(0, t, out);
}

void infer_pad(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& in = c.input_shape(0);
  int r = static_cast<int>(in.size());
  std::string mode = c.attrs().get_string("mode", "constant");
  R1_CHECK(mode == "constant" || mode == "reflect" || mode == "edge" || mode == "wrap", ModelError)
      << "Pad: mode '" << mode << "' is not supported";
  std::vector<int64_t> pads, axes;
  if (c.opset() < 11) {
    pads = c.attrs().get_ints("pads");
  } else {
    bool ok = c.input_ints(1, &pads);
    if (c.has_input(3)) ok = ok && c.input_ints(3, &axes);
    if (!ok) {
      c.set_output(0, t, Shape(r, kUnknownDim));
      return;
    }
  }
  std::vector<int64_t> b, e;
  pad_plan(r, pads, axes, &b, &e);
  Shape out(r);
  for (int i = 0; i < r; ++i) {
    if (!is_known(in[i])) {
      out[i] = (b[i] == 0 && e[i] == 0) ? in[i] : kUnknownDim;
      continue;
    }
    out[i] = in[i] + b[i] + e[i];
    R1_CHECK(out[i] >= 0, InputError) << "Pad: negative pads remove more than dim " << i << " holds";
    if (mode != "constant" && (b[i] > 0 || e[i] > 0))
      R1_CHECK(in[i] > 0, InputError) << "Pad: mode '" << mode << "' cannot pad an empty dim";
  }
  c.set_output(0, t, out);
}

void shape_range(InferContext& c, int r, int64_t* start, int64_t* end) {
  *start = 0;
  *end = r;
  if (c.opset() >= 15) {
    *start = c.attrs().get_int("start", 0);
    *end = c.attrs().get_int("end", r);
  }
  auto fix = [r](int64_t v) {
    if (v < 0) v += r;
    return std::clamp<int64_t>(v, 0, r);
  };
  *start = fix(*start);
  *end = fix(*end);
}

void infer_shape(InferContext& c) {
  int r = c.input_rank(0);
  int64_t s, e;
  shape_range(c, r, &s, &e);
  c.set_output(0, DType::Int64, {std::max<int64_t>(0, e - s)});
}

void infer_size(InferContext& c) {
  (void)c.input_dtype(0);
  c.set_output(0, DType::Int64, {});
}

DType constant_of_shape_dtype(InferContext& c) {
  const Tensor* v = c.attrs().get_tensor("value");
  if (!v) return DType::Float32;
  R1_CHECK(v->numel() == 1, ModelError) << "ConstantOfShape: value must hold one element";
  return v->dtype();
}

void infer_constant_of_shape(InferContext& c) {
  DType t = constant_of_shape_dtype(c);
  std::vector<int64_t> spec;
  if (!c.input_ints(0, &spec)) {
    set_unknown_rank(c, 0, t, static_len(c, 0));
    return;
  }
  for (int64_t v : spec) R1_CHECK(v >= 0, InputError) << "ConstantOfShape: negative dim " << v;
  c.set_output(0, t, spec);
}

void infer_range(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "Range: bool is not supported";
  for (size_t i = 1; i < 3; ++i)
    R1_CHECK(c.input_dtype(i) == t, ModelError) << "Range: start, limit and delta must share a dtype";
  const Tensor *a = c.input_value(0), *b = c.input_value(1), *d = c.input_value(2);
  if (!a || !b || !d) {
    c.set_output(0, t, {kUnknownDim});
    return;
  }
  int64_t n;
  if (is_integer(t)) {
    int64_t s = a->to_int64_vector()[0], l = b->to_int64_vector()[0], dl = d->to_int64_vector()[0];
    R1_CHECK(dl != 0, InputError) << "Range: delta must not be 0";
    int64_t diff = l - s;
    // ceil(diff / dl) for any signs
    int64_t q = diff / dl, rem = diff % dl;
    if (rem != 0 && ((rem > 0) == (dl > 0))) ++q;
    n = std::max<int64_t>(q, 0);
  } else {
    double s = a->scalar_as_double(0), l = b->scalar_as_double(0), dl = d->scalar_as_double(0);
    R1_CHECK(dl != 0, InputError) << "Range: delta must not be 0";
    n = std::max<int64_t>(static_cast<int64_t>(std::ceil((l - s) / dl)), 0);
  }
  c.set_output(0, t, {n});
}

void infer_trilu(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << "Trilu: input must have rank >= 2, got " << shape_str(s);
  c.set_output(0, c.input_dtype(0), s);
}

void infer_one_hot(InferContext& c) {
  const Shape& idx = c.input_shape(0);
  DType vt = c.input_dtype(2);
  int r = static_cast<int>(idx.size()) + 1;
  int ax = normalize_axis(c.attrs().get_int("axis", -1), r, "OneHot axis");
  int64_t depth = kUnknownDim;
  if (const Tensor* d = c.input_value(1)) {
    R1_CHECK(d->numel() == 1, InputError) << "OneHot: depth must be a scalar";
    depth = static_cast<int64_t>(d->scalar_as_double(0));
    R1_CHECK(depth > 0, InputError) << "OneHot: depth must be positive, got " << depth;
  }
  Shape out(idx.begin(), idx.end());
  out.insert(out.begin() + ax, depth);
  c.set_output(0, vt, out);
}

void infer_cumsum(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "CumSum: bool is not supported";
  c.set_output(0, t, c.input_shape(0));
}

void infer_nonzero(InferContext& c) {
  int r = c.input_rank(0);
  if (c.input_value(0))
    c.set_output_dtype(0, DType::Int64);  // run time: the kernel sizes it
  else
    c.set_output(0, DType::Int64, {r, kUnknownDim});
}

void infer_depth_to_space(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 4, InputError) << "DepthToSpace: input must be 4-D, got " << shape_str(s);
  int64_t b = c.attrs().get_int("blocksize", 0);
  R1_CHECK(b > 0, ModelError) << "DepthToSpace: blocksize must be positive";
  std::string mode = c.attrs().get_string("mode", "DCR");
  R1_CHECK(mode == "DCR" || mode == "CRD", ModelError) << "DepthToSpace: mode '" << mode << "' is not supported";
  Shape out = s;
  if (is_known(s[1])) {
    R1_CHECK(s[1] % (b * b) == 0, InputError) << "DepthToSpace: channels " << s[1] << " not divisible by " << b * b;
    out[1] = s[1] / (b * b);
  } else {
    out[1] = kUnknownDim;
  }
  out[2] = is_known(s[2]) ? s[2] * b : kUnknownDim;
  out[3] = is_known(s[3]) ? s[3] * b : kUnknownDim;
  c.set_output(0, c.input_dtype(0), out);
}

void infer_space_to_depth(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 4, InputError) << "SpaceToDepth: input must be 4-D, got " << shape_str(s);
  int64_t b = c.attrs().get_int("blocksize", 0);
  R1_CHECK(b > 0, ModelError) << "SpaceToDepth: blocksize must be positive";
  std::string mode = c.attrs().get_string("mode", "DCR");
  R1_CHECK(mode == "DCR" || mode == "CRD", ModelError) << "SpaceToDepth: mode '" << mode << "' is not supported";
  Shape out = s;
  out[1] = is_known(s[1]) ? s[1] * b * b : kUnknownDim;
  for (int i = 2; i < 4; ++i) {
    if (is_known(s[i])) {
      R1_CHECK(s[i] % b == 0, InputError) << "SpaceToDepth: dim " << i << " (" << s[i] << ") not divisible by " << b;
      out[i] = s[i] / b;
    } else {
      out[i] = kUnknownDim;
    }
  }
  c.set_output(0, c.input_dtype(0), out);
}

void infer_eye_like(InferContext& c) {
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 2, InputError) << "EyeLike: input must be 2-D, got " << shape_str(s);
  DType t = c.input_dtype(0);
  if (c.attrs().has("dtype")) {
    int64_t code = c.attrs().get_int("dtype", 1);
    R1_CHECK(dtype_is_valid_code(static_cast<int>(code)), ModelError)
        << "EyeLike: dtype " << code << " is not supported";
    t = static_cast<DType>(code);
  }
  c.set_output(0, t, s);
}

}  // namespace

void register_shape_ops(OpRegistry& reg) {
  reg.add(schema("Reshape", 2, 2, infer_reshape));
  reg.add(schema("Flatten", 1, 1, infer_flatten));
  reg.add(schema("Squeeze", 1, 2, infer_squeeze));
  reg.add(schema("Unsqueeze", 1, 2, infer_unsqueeze));
  reg.add(schema("Identity", 1, 1, infer_like_input0));
  reg.add(schema("Dropout", 1, 3, infer_dropout, 1, 2));
  reg.add(schema("Transpose", 1, 1, infer_transpose));
  reg.add(schema("Concat", 1, 1 << 20, infer_concat));
  reg.add(schema("Split", 1, 2, infer_split, 1, 1 << 20));
  reg.add(schema("Slice", 1, 5, infer_slice));
  reg.add(schema("Gather", 2, 2, infer_gather));
  reg.add(schema("GatherElements", 2, 2, infer_gather_elements));
  reg.add(schema("GatherND", 2, 2, infer_gather_nd));
  reg.add(schema("ScatterND", 3, 3, infer_scatter_nd));
  reg.add(schema("ScatterElements", 3, 3, infer_scatter_elements));
  reg.add(schema("Scatter", 3, 3, infer_scatter_elements));
  reg.add(schema("Expand", 2, 2, infer_expand));
  reg.add(schema("Tile", 2, 2, infer_tile));
  reg.add(schema("Pad", 1, 4, infer_pad));
  reg.add(schema("Shape", 1, 1, infer_shape));
  reg.add(schema("Size", 1, 1, infer_size));
  reg.add(schema("ConstantOfShape", 1, 1, infer_constant_of_shape));
  reg.add(schema("Range", 3, 3, infer_range));
  reg.add(schema("Trilu", 1, 2, infer_trilu));
  reg.add(schema("OneHot", 3, 3, infer_one_hot));
  reg.add(schema("CumSum", 2, 2, infer_cumsum));
  reg.add(schema("NonZero", 1, 1, infer_nonzero));
  reg.add(schema("DepthToSpace", 1, 1, infer_depth_to_space));
  reg.add(schema("SpaceToDepth", 1, 1, infer_space_to_depth));
  reg.add(schema("EyeLike", 1, 1, infer_eye_like));
}
}  // namespace r1
