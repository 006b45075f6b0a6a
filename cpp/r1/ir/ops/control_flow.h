// Facts about the control-flow nodes (If, Loop, Scan) that the schemas, kernels and passes share; the input
// layout they describe is in ir/ops/control_flow.cc.
//
//   size_t n = loop_carried(node);   // Loop: inputs 2 .. 2+n-1 are loop-carried, the rest captures
#pragma once
#include "r1/ir/graph.h"

namespace r1 {

// Loop-carried values of a Loop, or state values of a Scan: the importer records their count as "r1_carried"
// (captures follow them); a node without it has no captures.
inline size_t loop_carried(const Node& n) {
  if (n.attrs.has("r1_carried")) return static_cast<size_t>(n.attrs.get_int("r1_carried", 0));
  // Loop: trip count and condition; Scan: its scan inputs (and, at opset 8, sequence_lens first).
  const size_t fixed = n.op_type == "Loop" ? 2
                                           : static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0)) +
                                                 (n.opset > 0 && n.opset < 9 ? 1 : 0);
  return n.inputs.size() > fixed ? n.inputs.size() - fixed : 0;
}

}  // namespace r1
