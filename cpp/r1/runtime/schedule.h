// Inter-op parallelism: which steps of a graph may run at the same time. A group is a run of
// consecutive heavy steps (OpSchema::heavy: GEMMs, convolutions, attention, each worth a core to itself) none of
// which reads another's output, at most one per thread. The executor runs a group's steps
// concurrently, each on one thread (their kernels' own parallel_for then runs serially), and the
// memory plan treats a group as one step, so no two of its tensors share memory.
//
//   std::vector<StepGroup> groups = group_steps(graph, /*threads=*/2);
//   // Q/K/V projections after branch_scheduling: {first=41, size=2}, {first=43, size=1}, ...
//   std::vector<int> lo, hi; group_spans(groups, graph.nodes().size(), &lo, &hi);
#pragma once
#include <vector>

#include "r1/ir/graph.h"

namespace r1 {

struct StepGroup {
  int first = 0;  // step index
  int size = 1;   // consecutive steps [first, first + size)
};

// Groups covering every step in order; threads <= 1 gives one group per step.
std::vector<StepGroup> group_steps(const Graph& g, int threads);

// Per step: the first and last step of its group (the span its tensors' lifetimes widen to).
void group_spans(const std::vector<StepGroup>& groups, size_t num_steps, std::vector<int>* lo, std::vector<int>* hi);

}  // namespace r1
