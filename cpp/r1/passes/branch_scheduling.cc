// Orders nodes so that independent heavy nodes (GEMMs, convolutions, attention) sit next to each
// other: the executor runs such neighbours concurrently, one per core (inter-op parallelism;
// runtime/schedule.h). Exporters interleave the branches (Q projection, its reshapes, K projection,
// its reshapes, ...), which hides that Q, K and V could run at once.
//
// List scheduling over the dependency graph: while a light node is ready, emit the earliest one
// (in the current order); when only heavy nodes are ready, emit them all together. Light nodes are
// cheap, so running them first costs nothing and exposes every heavy node that can start.
#include <queue>
#include <unordered_map>

#include "r1/passes/pass.h"
#include "r1/ir/op_registry.h"

namespace r1 {
namespace {

class BranchScheduling : public Pass {
 public:
  const char* name() const override { return "branch_scheduling"; }
  bool run(Graph& g, const PassOptions&) override {
    const auto& nodes = g.nodes();
    const size_t n = nodes.size();
    std::unordered_map<const Node*, size_t> index;
    for (size_t i = 0; i < n; ++i) index[nodes[i].get()] = i;
    std::vector<int> pending(n, 0);
    for (size_t i = 0; i < n; ++i)
      for (Value* in : nodes[i]->inputs)
        if (in && in->producer) ++pending[i];
    // Min-heaps of node indices: the earliest ready node of each kind first.
    using Heap = std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>>;
    Heap light, heavy;
    auto push = [&](size_t i) { (is_heavy(*nodes[i]) ? heavy : light).push(i); };
    for (size_t i = 0; i < n; ++i)
      if (pending[i] == 0) push(i);
    std::vector<Node*> order;
    order.reserve(n);
    auto emit = [&](size_t i) {
      order.push_back(nodes[i].get());
      for (Value* out : nodes[i]->outputs) {
        if (!out) continue;
        for (Node* c : out->consumers) {
          auto it = index.find(c);
          if (it != index.end() && --pending[it->second] == 0) push(it->second);
        }
      }
    };
    while (!light.empty() || !heavy.empty()) {
      if (!light.empty()) {
        size_t i = light.top();
        light.pop();
        emit(i);
        continue;
      }
      std::vector<size_t> batch;
      while (!heavy.empty()) {
        batch.push_back(heavy.top());
        heavy.pop();
      }
      for (size_t i : batch) emit(i);
    }
    if (order.size() != n) return false;  // a cycle: topological_sort reports it
    bool changed = false;
    for (size_t i = 0; i < n && !changed; ++i) changed = order[i] != nodes[i].get();
    if (changed) g.reorder(order);
    return changed;
  }
};

}  // namespace
std::unique_ptr<Pass> make_branch_scheduling() { return std::make_unique<BranchScheduling>(); }
}  // namespace r1
