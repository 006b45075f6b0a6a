#include "r1/runtime/placement.h"

namespace r1 {
namespace {

bool gpu_float(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Ops whose CPU kernels read nothing but their inputs' shapes.
bool reads_metadata_only(const Node& n) {
  return (n.domain.empty() || n.domain == "ai.onnx") && (n.op_type == "Shape" || n.op_type == "Size");
}

}  // namespace

Placement place_steps(const Graph& g, Device& device, Device& cpu) {
  Placement out;
  out.steps.reserve(g.nodes().size());
  const bool gpu = device.kind() != DeviceKind::CPU;
  std::vector<char>& on_device = out.on_device;
  std::vector<char>& varying = out.varying;
  on_device.assign(g.values().size(), 0);
  varying.assign(g.values().size(), 0);
  for (const Value* v : g.inputs()) varying[v->id] = 1;
  for (auto& np : g.nodes()) {
    const Node& n = *np;
    StepPlacement p;
    if (gpu) {
      const KernelEntry* e = device.kernels().entry(n.op_type, n.domain);
      if (e && e->supported(n)) {
        bool worth = false;
        for (const Value* o : n.outputs) worth |= o && gpu_float(o->dtype);
        // Data the device reads, or data that changes per run (an int64 mask on its way to a float
        // one): on the device. Shape arithmetic stays on the host, where its values are needed.
        for (size_t i = 0; i < n.inputs.size() && !worth; ++i) {
          const Value* v = n.inputs[i];
          const bool host_read = i < 32 && ((e->host_inputs >> i) & 1);
          worth = v && !host_read && (on_device[v->id] || varying[v->id]);
        }
        if (worth) {
          p.on_device = true;
          p.kernel = e->fn;
          p.inplace_inputs = e->inplace_inputs;
          p.host_inputs = e->host_inputs;
        }
      }
    }
    if (!p.on_device) {
      const KernelEntry* e = cpu.kernels().entry(n.op_type, n.domain);
      R1_CHECK(e != nullptr, ModelError) << "op '" << n.op_type << "' in node '" << n.name
                                         << "' has no kernel on device " << device.name()
                                         << (gpu ? " or on the cpu" : "");
      p.kernel = e->fn;
      p.inplace_inputs = e->inplace_inputs;
      p.host_inputs = ~0u;
      p.metadata_only = gpu && reads_metadata_only(n);
    }
    bool reads_varying = false;
    if (!p.metadata_only && !reads_metadata_only(n))
      for (const Value* v : n.inputs) reads_varying |= v && varying[v->id];
    for (const Value* o : n.outputs)
      if (o) {
        on_device[o->id] = p.on_device;
        varying[o->id] = reads_varying;
      }
    out.steps.push_back(p);
  }
  return out;
}

std::string capture_obstacle(const Graph& g, const Placement& p) {
  size_t s = 0;
  for (auto& np : g.nodes()) {
    const Node& n = *np;
    const StepPlacement& st = p.steps[s++];
    if (st.metadata_only) continue;  // reads shapes only, and the shapes are fixed
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value* v = n.inputs[i];
      if (!v || st.input_on_device(i) || !(p.varying[v->id] || p.on_device[v->id])) continue;
      if (st.on_device)
        return "node " + n.label() + " reads input '" + v->name + "' on the host and it changes from run to run";
      return "node " + n.label() + " runs on the cpu on values that change from run to run";
    }
  }
  return "";
}

}  // namespace r1
