#include "r1/runtime/subgraph_executors.h"

#include "r1/runtime/executor.h"

namespace r1 {

SubgraphExecutors::SubgraphExecutors(Device& device, std::shared_ptr<ThreadPool> pool)
    : device_(device), pool_(std::move(pool)) {}

SubgraphExecutors::~SubgraphExecutors() = default;

std::vector<Tensor> SubgraphExecutors::run(const std::shared_ptr<Graph>& sub, const std::vector<Tensor>& inputs) {
  R1_CHECK(sub != nullptr, ModelError) << "a control-flow node has no subgraph to run";
  Executor* ex = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& slot = executors_[sub.get()];
    // The executor shares ownership: the subgraph lives as long as it runs, whoever drops the node.
    if (!slot) slot = std::make_unique<Executor>(std::shared_ptr<const Graph>(sub), device_, pool_);
    ex = slot.get();
  }
  return ex->run(inputs);  // Executor::run is safe from several threads at once
}

}  // namespace r1
