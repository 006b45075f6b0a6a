// Schemas of the view ops: Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference).
#include <map>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/shape_infer.h"

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

}  // namespace shape_ops

namespace {
using namespace shape_ops;

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

}  // namespace

void register_views_ops(OpRegistry& reg) {
  reg.add(schema("Reshape", 2, 2, infer_reshape));
  reg.add(schema("Flatten", 1, 1, infer_flatten));
  reg.add(schema("Squeeze", 1, 2, infer_squeeze));
  reg.add(schema("Unsqueeze", 1, 2, infer_unsqueeze));
  reg.add(schema("Identity", 1, 1, [](InferContext& c) {
    if (c.input_kind(0) != ValueKind::Tensor) {  // a sequence or optional passes through as it is
      c.set_output_dtype(0, c.input_dtype(0));
      c.set_output_kind(0, c.input_kind(0));
      return;
    }
    infer_like_input0(c);
  }));
  reg.add(schema("Dropout", 1, 3, infer_dropout, 1, 2));
}
}  // namespace r1
