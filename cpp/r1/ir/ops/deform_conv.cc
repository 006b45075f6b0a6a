// Schema of DeformConv (2-D): a convolution whose taps sample X at learned offsets (bilinear, zero
// outside), optionally scaled by a mask.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_deform_conv(InferContext& c) {
  for (size_t i = 0; i < 5; ++i)
    if (c.has_input(i)) check_float(c, i, "DeformConv", i == 0 ? "X" : i == 1 ? "W" : i == 2 ? "offset" : "B/mask");
  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  const Shape& off = c.input_shape(2);
  R1_CHECK(x.size() == 4 && w.size() == 4 && off.size() == 4, InputError)
      << "DeformConv: only the 2-D form is supported (X [N, C, H, W], W [oC, C/group, kH, kW]), got " << shape_str(x)
      << " and " << shape_str(w);
  c.set_output(0, c.input_dtype(0), {x[0], w[0], off[2], off[3]});
}

}  // namespace

void register_deform_conv_ops(OpRegistry& reg) {
  reg.add(heavy(with_opsets(schema("DeformConv", 3, 5, infer_deform_conv), 19)));
}
}  // namespace r1
