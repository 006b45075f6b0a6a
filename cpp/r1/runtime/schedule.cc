#include "r1/runtime/schedule.h"

#include <unordered_set>

#include "r1/ir/op_registry.h"

namespace r1 {

std::vector<StepGroup> group_steps(const Graph& g, int threads) {
  const auto& nodes = g.nodes();
  std::vector<StepGroup> groups;
  std::unordered_set<const Node*> members;
  for (size_t s = 0; s < nodes.size(); ++s) {
    const Node& n = *nodes[s];
    bool join = false;
    if (threads > 1 && !groups.empty() && is_heavy(n)) {
      const StepGroup& last = groups.back();
      const Node& head = *nodes[last.first];
      join = is_heavy(head) && last.size < threads;
      for (const Value* in : n.inputs)
        if (join && in && in->producer && members.count(in->producer)) join = false;
    }
    if (join) {
      ++groups.back().size;
    } else {
      groups.push_back({static_cast<int>(s), 1});
      members.clear();
    }
    members.insert(&n);
  }
  return groups;
}

void group_spans(const std::vector<StepGroup>& groups, size_t num_steps, std::vector<int>* lo, std::vector<int>* hi) {
  lo->assign(num_steps, 0);
  hi->assign(num_steps, 0);
  for (const StepGroup& gr : groups)
    for (int s = gr.first; s < gr.first + gr.size; ++s) {
      (*lo)[s] = gr.first;
      (*hi)[s] = gr.first + gr.size - 1;
    }
}

}  // namespace r1
