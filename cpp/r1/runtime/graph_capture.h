// CUDA / HIP graphs for an executor: per exact input-shape key, the plan's kernels are recorded once
// (Device::capture) and later runs of that key replay them: inputs are copied into the recording's own
// device buffers, one launch runs every kernel, outputs are copied back. Whether a graph can be
// replayed exactly at all (capture_obstacle in placement.h) is decided once, when the executor is made.
//
//   GraphCapture cap(gpu, cpu, capture_obstacle(graph, placement));
//   if (auto run = cap.find_or_record(key, plan, inputs, record)) return cap.replay(*run, inputs);
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "r1/backend/device.h"
#include "r1/runtime/plan.h"

namespace r1 {

// One key's recording and the fixed buffers it reads and writes.
struct CapturedRun {
  std::shared_ptr<Plan> plan;
  std::shared_ptr<Buffer> arena;  // the recording's for good (never checked back in)
  std::vector<Tensor> inputs;     // device buffers the recording reads the graph inputs from
  std::vector<Tensor> outputs;    // where the recording leaves the graph outputs
  std::unique_ptr<CapturedWork> work;
  std::mutex mu;  // one replay at a time: the buffers above are fixed
};

class GraphCapture {
 public:
  // obstacle: why this graph cannot be replayed exactly ("" when it can).
  GraphCapture(Device& device, Device& cpu, std::string obstacle)
      : device_(device), cpu_(cpu), obstacle_(std::move(obstacle)) {}

  bool possible(std::string* why = nullptr) const {
    if (why) *why = obstacle_;
    return obstacle_.empty();
  }
  int graphs() const;  // keys recorded successfully
  int64_t replays() const { return replays_.load(); }

  // Runs the plan's steps once with device inputs, in `arena`, allocating through `alloc` (the
  // capture's), and returns the graph outputs.
  using RecordFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs,
                                                     const std::shared_ptr<Buffer>& arena, Allocator& alloc)>;
  // The key's recording, made now through `record` when the key has none yet; nullptr when this key
  // cannot be recorded (the eager run then reports any real error).
  std::shared_ptr<CapturedRun> find_or_record(const std::vector<int64_t>& key, const std::shared_ptr<Plan>& plan,
                                              const std::vector<Tensor>& inputs, const RecordFn& record);
  // Copies inputs in, replays, copies the outputs back to host memory.
  std::vector<Tensor> replay(CapturedRun& run, const std::vector<Tensor>& inputs);

 private:
  Device& device_;
  Device& cpu_;
  const std::string obstacle_;
  std::atomic<int64_t> replays_{0};
  mutable std::mutex mu_;
  std::map<std::vector<int64_t>, std::shared_ptr<CapturedRun>> runs_;  // by exact key; nullptr: failed
};

}  // namespace r1
