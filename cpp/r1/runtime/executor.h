// Runs a graph on a device. Shapes may change from run to run (dynamic batch and sequence
// length): inference runs per node with the actual shapes, so no re-conversion is needed.
//
//   Executor ex(graph, BackendRegistry::instance().device("cpu"), /*num_threads=*/2);
//   std::vector<Tensor> outs = ex.run({input_ids, attention_mask});   // graph input order
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "r1/backend/device.h"
#include "r1/core/thread_pool.h"
#include "r1/ir/graph.h"

namespace r1 {

class Executor {
 public:
  // num_threads <= 0: all hardware threads.
  Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads);
  ~Executor();

  // Inputs in the order of graph->inputs(); throws InputError when a dtype, rank, or dim
  // differs from the model's declaration (naming the input, the expected and the given).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const Graph& graph() const { return *graph_; }
  Device& device() const { return device_; }
  int num_threads() const { return pool_->num_threads(); }

 private:
  struct Step {
    const Node* node;
    KernelFn kernel;
    std::vector<int> release;  // value ids whose last reader is this node
  };
  void check_inputs(const std::vector<Tensor>& inputs) const;
  void run_step(const Step& step, std::vector<Tensor>& env) const;

  std::shared_ptr<const Graph> graph_;
  Device& device_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<Step> steps_;
};

}  // namespace r1
