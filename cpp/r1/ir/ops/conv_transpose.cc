// Schema and shape inference of ConvTranspose (geometry: conv_util.h).
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_conv_transpose(InferContext& c) {
  DType t = c.input_dtype(0);
  check_float(t, "ConvTranspose");
  R1_CHECK(c.input_dtype(1) == t, ModelError) << "ConvTranspose: X and W have different dtypes";
  const Shape& x = c.input_shape(0);
  int r = static_cast<int>(x.size());
  R1_CHECK(r >= 3, InputError) << "ConvTranspose input must have rank >= 3, got " << shape_str(x);
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "ConvTranspose group must be positive";
  const Shape& w = c.input_shape(1);
  R1_CHECK(static_cast<int>(w.size()) == r, InputError)
      << "ConvTranspose weight " << shape_str(w) << " does not match input " << shape_str(x);
  if (is_known(x[1]) && is_known(w[0])) {
    R1_CHECK(x[1] == w[0], InputError) << "ConvTranspose input has " << x[1] << " channels, weight expects " << w[0];
  }
  if (is_known(w[0])) {
    R1_CHECK(w[0] % group == 0, InputError) << "ConvTranspose channels not divisible by group";
  }
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  conv_geom::Geom g = conv_geom::transpose(c.attrs(), spatial(x), k);
  Shape out = {x[0], is_known(w[1]) ? w[1] * group : kUnknownDim};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
}

}  // namespace

void register_conv_transpose_ops(OpRegistry& reg) {
  reg.add(heavy(schema("ConvTranspose", 2, 3, infer_conv_transpose)));
}
}  // namespace r1
