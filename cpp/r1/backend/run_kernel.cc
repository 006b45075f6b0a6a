#include "r1/backend/run_kernel.h"

#include "r1/ir/graph.h"
#include "r1/ir/op_registry.h"

namespace r1 {

std::vector<Tensor> run_kernel(Device& device, const std::string& op_type, const std::string& domain,
                               const std::vector<Tensor>& inputs, const AttributeMap& attrs, int opset,
                               size_t num_outputs) {
  const KernelEntry* entry = device.kernels().entry(op_type, domain);
  KernelFn fn = entry ? entry->fn : nullptr;
  R1_CHECK(fn != nullptr, ModelError) << "op '" << op_type << "' has no kernel on device " << device.name();

  // A one-node graph gives the kernel the Node (attributes, opset) it expects.
  Graph g;
  std::vector<Value*> in_values;
  for (size_t i = 0; i < inputs.size(); ++i)
    in_values.push_back(
        inputs[i].defined() ? g.add_input("in" + std::to_string(i), inputs[i].dtype(), inputs[i].shape()) : nullptr);
  std::vector<std::string> out_names;
  for (size_t i = 0; i < num_outputs; ++i) out_names.push_back("out" + std::to_string(i));
  Node* node = g.add_node(op_type, domain, op_type + "_0", in_values, out_names, attrs, opset);
  node->schema = OpRegistry::instance().find(op_type, domain);
  R1_CHECK(node->schema != nullptr, ModelError) << "unknown op '" << op_type << "' (domain '" << domain << "')";

  // Output types from the same inference the executor uses; inputs are known values on the host.
  std::vector<InferContext::InputInfo> infos;
  for (const Tensor& t : inputs)
    infos.push_back({t.dtype(), t.defined() ? &t.shape() : nullptr, t.defined() ? &t : nullptr});
  InferContext ictx(*node, infos);
  run_infer(ictx);
  std::vector<DType> dtypes(num_outputs);
  std::vector<Shape> shapes(num_outputs);
  std::vector<bool> known(num_outputs);
  for (size_t i = 0; i < num_outputs; ++i) {
    dtypes[i] = ictx.output_dtype(i);
    shapes[i] = ictx.output_shape(i);
    known[i] = ictx.output_shape_known(i);
  }

  std::vector<Tensor> dev_inputs;
  // Inputs the kernel reads on the host (shape-like ones) stay there; the rest go to the device.
  const bool gpu = device.kind() != DeviceKind::CPU;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const bool host = !gpu || (i < 32 && ((entry->host_inputs >> i) & 1));
    dev_inputs.push_back(!t.defined() ? Tensor() : host ? t : copy_tensor(device, device.allocator(), t));
  }
  std::vector<const Tensor*> in_ptrs;
  for (const Tensor& t : dev_inputs) in_ptrs.push_back(t.defined() ? &t : nullptr);
  std::vector<Tensor> outs(num_outputs);
  ThreadPool pool(1);
  KernelContext ctx(*node, in_ptrs, &outs, &dtypes, &shapes, &known, device.allocator(), pool);
  fn(ctx);

  std::vector<Tensor> host;
  for (const Tensor& t : outs) {
    if (!t.defined()) {
      host.emplace_back();
      continue;
    }
    Tensor h = Tensor::empty(t.dtype(), t.shape());
    if (t.nbytes()) device.copy(*t.buffer(), t.byte_offset(), *h.buffer(), 0, t.nbytes(), nullptr);
    host.push_back(h);
  }
  return host;
}

}  // namespace r1
