// Schemas of Concat and Split.
#include <algorithm>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1 {
namespace shape_ops {

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

}  // namespace shape_ops

namespace {
using namespace shape_ops;

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

}  // namespace

void register_concat_split_ops(OpRegistry& reg) {
  reg.add(schema("Concat", 1, 1 << 20, infer_concat));
  reg.add(schema("Split", 1, 2, infer_split, 1, 1 << 20));
}
}  // namespace r1
