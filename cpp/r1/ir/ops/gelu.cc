// Schemas of Gelu: the ONNX op (opset 20) and r1::Gelu, the same op in the r1 domain that
// gelu_fusion creates for older opsets (contract: cpp/r1/passes/README.md).
#include <string>

#include "r1/ir/ops/elementwise_infer.h"
#include "r1/ir/ops/families.h"

namespace r1 {
namespace {

void infer_gelu(InferContext& c) {
  check_dtype(c, 0, Kinds::Float);
  std::string a = c.attrs().get_string("approximate", "none");
  R1_CHECK(a == "none" || a == "tanh", ModelError) << "Gelu: approximate='" << a << "' is not supported";
  infer_like_input0(c);
}

void infer_r1_gelu(InferContext& c) {
  check_float(c, 0, "Gelu", "input");
  std::string a = c.attrs().get_string("approximate", "none");
  R1_CHECK(a == "none" || a == "tanh", ModelError) << "Gelu: approximate='" << a << "' is not supported";
  infer_like_input0(c);
}

}  // namespace

void register_gelu_ops(OpRegistry& reg) {
  reg.add(schema("Gelu", 1, 1, infer_gelu));
  OpSchema gelu = schema("Gelu", 1, 1, infer_r1_gelu);
  gelu.domain = "r1";
  reg.add(std::move(gelu));
}
}  // namespace r1
