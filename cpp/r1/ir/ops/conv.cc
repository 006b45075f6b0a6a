// Schema and shape inference of Conv (geometry: conv_util.h).
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_conv(InferContext& c) {
  DType t = c.input_dtype(0);
  check_float(t, "Conv");
  R1_CHECK(c.input_dtype(1) == t, ModelError) << "Conv: X and W have different dtypes";
  if (c.has_input(2)) {
    R1_CHECK(c.input_dtype(2) == t, ModelError) << "Conv: X and B have different dtypes";
  }
  const Shape& x = c.input_shape(0);
  int r = static_cast<int>(x.size());
  R1_CHECK(r >= 3, InputError) << "Conv input must have rank >= 3, got " << shape_str(x);
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "Conv group must be positive";
  const Shape& w = c.input_shape(1);
  R1_CHECK(static_cast<int>(w.size()) == r, InputError)
      << "Conv weight " << shape_str(w) << " does not match input " << shape_str(x);
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  if (is_known(x[1]) && is_known(w[1])) {
    R1_CHECK(x[1] == w[1] * group, InputError)
        << "Conv input has " << x[1] << " channels, weight expects " << w[1] << " x group " << group;
  }
  if (is_known(w[0])) {
    R1_CHECK(w[0] % group == 0, InputError) << "Conv output channels not divisible by group";
  }
  if (c.has_input(2) && c.input_has_shape(2)) {
    const Shape& b = c.input_shape(2);
    R1_CHECK(b.size() == 1, InputError) << "Conv bias must be 1-D";
    if (is_known(b[0]) && is_known(w[0])) {
      R1_CHECK(b[0] == w[0], InputError) << "Conv bias size mismatch";
    }
  }
  conv_geom::Geom g = conv_geom::forward(c.attrs(), spatial(x), k, false);
  Shape out = {x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
}

}  // namespace

void register_conv_ops(OpRegistry& reg) { reg.add(heavy(schema("Conv", 2, 3, infer_conv))); }
}  // namespace r1
