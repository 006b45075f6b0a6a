// Schema of Pad (modes constant, reflect, edge, wrap).
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1 {
namespace shape_ops {

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

}  // namespace shape_ops

namespace {
using namespace shape_ops;

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

}  // namespace

void register_pad_ops(OpRegistry& reg) { reg.add(schema("Pad", 1, 4, infer_pad)); }
}  // namespace r1
