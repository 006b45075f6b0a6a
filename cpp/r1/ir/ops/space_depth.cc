// Schemas of DepthToSpace and SpaceToDepth (modes DCR and CRD).
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

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

}  // namespace

void register_space_depth_ops(OpRegistry& reg) {
  reg.add(schema("DepthToSpace", 1, 1, infer_depth_to_space));
  reg.add(schema("SpaceToDepth", 1, 1, infer_space_to_depth));
}
}  // namespace r1
