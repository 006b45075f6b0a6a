// Runs one op's kernel on any device, outside a graph: host tensors in, host tensors out. This is
// how kernel tests compare a GPU backend with numpy and the CPU reference without the executor.
//
//   AttributeMap attrs; attrs.set("axis", Attribute::make_int(-1));
//   std::vector<Tensor> y = run_kernel(BackendRegistry::instance().device("cuda:0"), "Softmax", "",
//                                      {x}, attrs, /*opset=*/17, /*num_outputs=*/1);
#pragma once
#include <string>
#include <vector>

#include "r1/backend/device.h"
#include "r1/ir/attribute.h"

namespace r1 {

// Inputs are host tensors (undefined = omitted optional input). They are copied to the device,
// output shapes come from the op's shape inference, the kernel runs, the device is synchronised
// and the outputs are copied back into fresh host tensors. Throws ModelError when the device has
// no kernel for the op.
std::vector<Tensor> run_kernel(Device& device, const std::string& op_type, const std::string& domain,
                               const std::vector<Tensor>& inputs, const AttributeMap& attrs, int opset,
                               size_t num_outputs);

}  // namespace r1
