// Schema of Slice.
#include <algorithm>
#include <climits>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1 {
namespace shape_ops {

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

}  // namespace shape_ops

namespace {
using namespace shape_ops;

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

}  // namespace

void register_slice_ops(OpRegistry& reg) { reg.add(schema("Slice", 1, 5, infer_slice)); }
}  // namespace r1
