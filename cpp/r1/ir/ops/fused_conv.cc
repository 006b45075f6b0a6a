// Schema of r1::FusedConv (contract: cpp/r1/passes/README.md):
//   Y = act(Conv(X, W, B) + residual), inputs X, W, B?, residual?, w_scale?; every ONNX Conv attribute plus
//   activation / act_alpha / act_beta. With precision="int8", W may be int8 (quantized at compile time by
//   the CPU's prepack hook) and w_scale its float32 per-output-channel scales [M]. Shape inference is Conv's
//   (conv_util.h geometry) broadcast with the residual's shape, exactly as the Add it replaces.
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

const char* const kActivations[] = {"",     "Relu", "Gelu",        "GeluTanh",  "Sigmoid",  "Silu",
                                    "Tanh", "Clip", "HardSigmoid", "HardSwish", "LeakyRelu"};

void infer_fused_conv(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(is_float(t), ModelError) << "FusedConv of " << dtype_name(t) << " is not supported";
  const bool int8_weight = c.input_dtype(1) == DType::Int8;
  if (int8_weight) {
    R1_CHECK(c.attrs().get_string("precision", "fp32") == "int8", ModelError)
        << "FusedConv: an int8 weight needs precision='int8'";
    R1_CHECK(c.has_input(4) && c.input_dtype(4) == DType::Float32, ModelError)
        << "FusedConv: an int8 weight needs its float32 scales as input 4";
  } else {
    R1_CHECK(!c.has_input(4), ModelError) << "FusedConv: weight scales (input 4) go with an int8 weight only";
  }
  for (size_t i = int8_weight ? 2 : 1; i < 4; ++i)
    if (c.has_input(i)) {
      R1_CHECK(c.input_dtype(i) == t, ModelError)
          << "FusedConv: input " << i << " is " << dtype_name(c.input_dtype(i)) << ", X is " << dtype_name(t);
    }
  std::string act = c.attrs().get_string("activation", "");
  bool known = false;
  for (const char* a : kActivations) known = known || act == a;
  R1_CHECK(known, ModelError) << "FusedConv activation '" << act << "' is not supported";

  const Shape& x = c.input_shape(0);
  const Shape& w = c.input_shape(1);
  int r = static_cast<int>(x.size());
  R1_CHECK(r >= 3, InputError) << "FusedConv input must have rank >= 3, got " << shape_str(x);
  R1_CHECK(static_cast<int>(w.size()) == r, InputError)
      << "FusedConv weight " << shape_str(w) << " does not match input " << shape_str(x);
  int64_t group = c.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "FusedConv group must be positive";
  if (is_known(x[1]) && is_known(w[1])) {
    R1_CHECK(x[1] == w[1] * group, InputError)
        << "FusedConv input has " << x[1] << " channels, weight expects " << w[1] << " x group " << group;
  }
  if (is_known(w[0])) {
    R1_CHECK(w[0] % group == 0, InputError) << "FusedConv output channels not divisible by group";
  }
  if (c.input_has_shape(2)) {
    const Shape& b = c.input_shape(2);
    R1_CHECK(b.size() == 1, InputError) << "FusedConv bias must be 1-D";
    if (is_known(b[0]) && is_known(w[0])) {
      R1_CHECK(b[0] == w[0], InputError) << "FusedConv bias has " << b[0] << " values for " << w[0] << " channels";
    }
  }
  if (int8_weight && c.input_has_shape(4)) {
    const Shape& s = c.input_shape(4);
    R1_CHECK(s.size() == 1 && (!is_known(s[0]) || !is_known(w[0]) || s[0] == w[0]), InputError)
        << "FusedConv weight scales " << shape_str(s) << " do not match " << w[0] << " output channels";
  }
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(w.begin() + 2, w.end());
  conv_geom::Geom g = conv_geom::forward(c.attrs(), Shape(x.begin() + 2, x.end()), k, false);
  Shape out = {x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  if (c.input_has_shape(3)) {
    const Shape& res = c.input_shape(3);
    R1_CHECK(res.size() <= out.size(), InputError)
        << "FusedConv residual " << shape_str(res) << " has a higher rank than the conv output " << shape_str(out);
    // Y = conv + residual broadcasts like the Add it replaces: conv_fusion cannot always prove the
    // residual is no larger (unknown spatial dims), and the kernel handles either case.
    try {
      out = broadcast_shapes(out, res);
    } catch (const InputError&) {
      R1_THROW(InputError) << "FusedConv residual " << shape_str(res) << " does not broadcast with the conv output "
                           << shape_str(out);
    }
  }
  c.set_output(0, t, out);
}

}  // namespace

void register_fused_conv_ops(OpRegistry& reg) {
  OpSchema s = heavy(schema("FusedConv", 2, 5, infer_fused_conv));
  s.domain = "r1";
  reg.add(std::move(s));
}
}  // namespace r1
