// The executor's SubgraphRunner (backend/kernel.h): one Executor per subgraph, made on first use and kept,
// so a loop body is planned once per input shape (runtime/plan_cache.h) and each iteration after the first
// runs in a checked-out arena, as the graph itself does. The nested executors share their parent's thread pool
// (a control-flow kernel runs on the calling thread, between the parent's parallel regions).
//
//   SubgraphExecutors subs(cpu_device, pool);
//   kernel_context.set_subgraphs(&subs);   // If / Loop / Scan kernels then call ctx.subgraphs().run(body, ins)
#pragma once
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "r1/backend/device.h"
#include "r1/backend/kernel.h"
#include "r1/core/thread_pool.h"

namespace r1 {

class Executor;

class SubgraphExecutors : public SubgraphRunner {
 public:
  SubgraphExecutors(Device& device, std::shared_ptr<ThreadPool> pool);
  ~SubgraphExecutors() override;
  std::vector<Tensor> run(const std::shared_ptr<Graph>& sub, const std::vector<Tensor>& inputs) override;

 private:
  Device& device_;
  std::shared_ptr<ThreadPool> pool_;
  std::mutex mu_;
  std::unordered_map<const Graph*, std::unique_ptr<Executor>> executors_;
};

}  // namespace r1
