// Facts about the control-flow nodes (If, Loop, Scan) that the schemas, kernels and passes share; the input
// layout they describe is in ir/ops/control_flow.cc.
//
//   size_t n = loop_carried(node);   // Loop: inputs 2 .. 2+n-1 are loop-carried, the rest captures
//   SubgraphFeed f;
//   if (subgraph_feed(node, &f)) ... node input f.first_capture + k feeds subgraph input f.first_capture + k - f.shift
#pragma once
#include "r1/ir/graph.h"

namespace r1 {

// Opset 8's Scan (a batch axis, sequence_lens as input 0) rather than opset 9's (axes and directions). A node of
// opset 0 (no opset recorded) is taken as the newer form.
inline bool is_scan8(const Node& n) { return n.op_type == "Scan" && n.opset > 0 && n.opset < 9; }

// Loop-carried values of a Loop, or state values of a Scan: the importer records their count as "r1_carried"
// (captures follow them); a node without it has no captures.
inline size_t loop_carried(const Node& n) {
  if (n.attrs.has("r1_carried")) return static_cast<size_t>(n.attrs.get_int("r1_carried", 0));
  // Loop: trip count and condition; Scan: its scan inputs (and, at opset 8, sequence_lens first).
  const size_t fixed =
      n.op_type == "Loop" ? 2 : static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0)) + (is_scan8(n) ? 1 : 0);
  return n.inputs.size() > fixed ? n.inputs.size() - fixed : 0;
}

// Where a control-flow node's captured outer values start among its inputs, and how far node inputs sit ahead of
// the subgraph inputs they feed (If and Scan-8: 1, for the condition or sequence_lens; Loop and Scan: 0).
struct SubgraphFeed {
  size_t first_capture = 0;
  size_t shift = 0;
};
// False for a node that is not If, Loop or Scan of the default domain.
inline bool subgraph_feed(const Node& n, SubgraphFeed* f) {
  if (!n.domain.empty() && n.domain != "ai.onnx") return false;
  if (n.op_type == "If") {
    *f = {1, 1};
  } else if (n.op_type == "Loop") {
    *f = {2 + loop_carried(n), 0};
  } else if (n.op_type == "Scan") {
    const size_t lens = is_scan8(n) ? 1 : 0;
    *f = {lens + loop_carried(n) + static_cast<size_t>(n.attrs.get_int("num_scan_inputs", 0)), lens};
  } else {
    return false;
  }
  return true;
}

}  // namespace r1
