// Which device runs each node, and where each input a kernel reads must live.
//
// On the CPU every node runs on the CPU. On a GPU, a node runs there when the GPU has a kernel for
// it that supports its dtypes (KernelEntry::supported) and it is worth it: it yields a float tensor
// or reads a value already in device memory. Everything else (shape arithmetic on int64, ops with no
// GPU kernel) runs on the CPU, like onnxruntime's CPU fallback; the executor copies values across
// where a consumer needs them on the other side, once per run.
//
//   Placement p = place_steps(graph, gpu, cpu);
//   if (p.steps[s].on_device) ... p.steps[s].kernel, p.steps[s].host_inputs
//   std::string why = capture_obstacle(graph, p);   // "" when a CUDA / HIP graph can replay it
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "r1/backend/device.h"
#include "r1/ir/graph.h"

namespace r1 {

struct StepPlacement {
  bool on_device = false;  // runs on the executor's device (false: on the CPU)
  KernelFn kernel = nullptr;
  uint32_t inplace_inputs = 0;  // the chosen kernel's KernelEntry::inplace_inputs
  uint32_t host_inputs = 0;     // device steps: inputs the kernel reads on the host
  bool metadata_only = false;   // reads only its inputs' shapes (Shape, Size): no copy either way

  // Whether input i must be in device memory when the kernel runs.
  bool input_on_device(size_t i) const { return on_device && !(i < 32 && ((host_inputs >> i) & 1)); }
};

struct Placement {
  std::vector<StepPlacement> steps;  // one per node of the graph, in node order
  // Per value id: produced by a device step; may differ between runs of one input shape (graph
  // inputs and what is computed from their contents; the rest is fixed by shapes and constants).
  std::vector<char> on_device, varying;
};

// `device` may be the CPU itself (everything on it). Throws ModelError naming the node when neither
// device has a kernel for it.
Placement place_steps(const Graph& g, Device& device, Device& cpu);

// Why replaying a recorded graph of the device steps would not be exact for every run of one input
// shape ("" when it would): a CPU step that reads data computed per run or on the device (it runs
// once, at capture time), or a device kernel that reads such a value on the host.
std::string capture_obstacle(const Graph& g, const Placement& p);

}  // namespace r1
