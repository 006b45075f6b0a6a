// Runs a graph on a device. Shapes may change from run to run (dynamic batch and sequence
// length): the first run of an input-shape key infers shapes per node and records a Plan
// (runtime/plan.h); later runs of that key skip shape inference wherever shapes cannot depend on
// data and give kernels outputs inside one arena checked out per run, so they allocate no tensor
// memory except the graph outputs, which the caller keeps.
//
//   Executor ex(graph, BackendRegistry::instance().device("cpu"), /*num_threads=*/2);
//   std::vector<Tensor> outs = ex.run({input_ids, attention_mask});   // graph input order
//   PlanCache::Stats s = ex.memory_stats();                           // arena vs sum of intermediates
//
// run() may be called from several threads at once: each run checks out its own arena and
// scratch state; the thread pool runs one parallel region at a time.
//
// On a GPU (device "cuda:N" / "hip:N") each node runs where runtime/placement.h puts it: the GPU,
// or the CPU for what the GPU has no kernel for (shape arithmetic, rare ops). Where values live is
// runtime/residency.h's job: constants uploaded once, values that cross copied once per run; run()
// returns host tensors. The memory plan's arena is device memory and holds the GPU steps' intermediates.
//
// CUDA / HIP graphs (set_graph_capture(true), off by default; runtime/graph_capture.h): the second run
// of an exact input-shape key records the plan's kernels and later runs of that key replay them, where
// that is exact (capturable()). Inputs are checked by runtime/input_check.h.
//
// Inter-op parallelism: consecutive independent heavy steps (runtime/schedule.h; the
// branch_scheduling pass puts Q/K/V projections side by side) run concurrently, one per thread,
// on runs that follow a plan. Recording runs go step by step. set_inter_op(false) turns it off.
//
// Memory tiering (Executor::Tiering, runtime/weight_streamer.h): under a memory budget, weights stream from
// their .r1 file while earlier steps compute, and the executor's own allocations on the device's tier are
// counted in the same budget. Tiered runs go one at a time (a group of independent steps acquires its
// weights, in step order, before it runs), and are never graph-captured (streamed weights move between runs).
// On the CPU, when a run's arena does not fit next to the largest step's weights, its plan spills long-lived
// activations to offload_dir between their reads (runtime/activation_spill.h); such runs go step by step. A run
// that records a plan lets values go to offload_dir while its activations exceed the budget
// (runtime/recording_spill.h).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "r1/backend/device.h"
#include "r1/core/thread_pool.h"
#include "r1/ir/graph.h"
#include "r1/runtime/activation_spill.h"
#include "r1/runtime/recording_spill.h"
#include "r1/runtime/graph_capture.h"
#include "r1/runtime/input_check.h"
#include "r1/runtime/placement.h"
#include "r1/runtime/plan_cache.h"
#include "r1/runtime/residency.h"
#include "r1/runtime/schedule.h"
#include "r1/runtime/subgraph_executors.h"
#include "r1/runtime/trace.h"
#include "r1/runtime/weight_streamer.h"

namespace r1 {

class Executor {
 public:
  // num_threads <= 0: all hardware threads.
  Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads);
  struct Tiering {
    std::shared_ptr<MemoryPool> device_pool;  // the budget of the executor's device's tier
    std::shared_ptr<MemoryPool> host_pool;    // GPU executors: the host tier's (staging), or null
    TieringOptions options;
  };
  // With `tiering` set, weights stream under its budgets (see above); throws InputError when the budget
  // cannot hold one step's weights.
  Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads, const Tiering* tiering);
  // A subgraph's executor (runtime/subgraph_executors.h): it runs on its parent's thread pool.
  Executor(std::shared_ptr<const Graph> graph, Device& device, std::shared_ptr<ThreadPool> pool);
  ~Executor();

  // Inputs in the order of graph->inputs(); throws InputError when a dtype, rank, or dim
  // differs from the model's declaration (naming the input, the expected and the given).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const Graph& graph() const { return *graph_; }
  Device& device() const { return device_; }
  int num_threads() const { return pool_->num_threads(); }

  // Off: every run infers and allocates as if no plan existed (the reference for tests).
  void set_memory_planning(bool on) { planning_ = on; }
  bool memory_planning() const { return planning_; }
  PlanCache::Stats memory_stats() const;

  // Kernel time per step, accumulated while profiling is on (r1 profile); off costs one relaxed load
  // per step.
  struct StepProfile {
    const Node* node;
    int64_t ns, calls;
  };
  void set_profiling(bool on) { profiling_ = on; }
  bool profiling() const { return profiling_; }
  std::vector<StepProfile> step_profile() const;
  void reset_profile();

  void set_inter_op(bool on) { inter_op_ = on; }
  bool inter_op() const { return inter_op_; }
  // Groups of more than one step (0: nothing in this graph can run side by side at this thread count).
  int parallel_groups() const;

  // Steps placed on the executor's device (all of them on the CPU) and on the CPU as a fallback.
  int device_steps() const;
  int num_steps() const { return static_cast<int>(steps_.size()); }
  // Per step, in execution order: its node and whether it runs on the executor's device.
  std::vector<std::pair<const Node*, bool>> step_devices() const;
  // Graph capture (see above). capturable(): false with the reason when this graph cannot be.
  void set_graph_capture(bool on) { graph_capture_ = on; }
  bool graph_capture() const { return graph_capture_; }
  bool capturable(std::string* why = nullptr) const { return capture_.possible(why); }
  int captured_graphs() const { return capture_.graphs(); }
  int64_t graph_replays() const { return capture_.replays(); }
  // Bytes of constants uploaded to the device (0 on the CPU).
  size_t device_constant_bytes() const { return residency_.constant_bytes(); }
  // The stream pipeline, when the executor was made with a budget (else nullptr).
  WeightStreamer* streamer() const { return streamer_.get(); }
  // Activation spills of the tiered runs (CPU executors under a budget), or nullptr.
  const ActivationSpiller* spiller() const { return spiller_.get(); }
  // Timestamped compute steps (and, when tiered, disk reads and stalls) of the runs while on (runtime/trace.h).
  TraceSink& trace() { return trace_; }

 private:
  std::vector<Tensor> run_unchecked(const std::vector<Tensor>& inputs);
  struct Step {
    const Node* node;
    KernelFn kernel;
    std::vector<int> release;  // value ids whose last reader is this node
    StepPlacement place;
  };
  struct Lane;     // what one step in flight needs (a group runs several at once)
  struct Scratch;  // per-run vectors, reused across runs
  struct RunCtx;   // what one run plans with
  class ScratchLease;
  Executor(std::shared_ptr<const Graph> graph, Device& device, std::shared_ptr<ThreadPool> pool,
           const Placement& places, const Tiering* tiering);
  Allocator& device_allocator() { return streamer_ ? streamer_->activation_allocator() : device_.allocator(); }
  void run_step(size_t s, Scratch& sc, Lane& lane, RunCtx& rc, bool release);
  void run_group(const StepGroup& g, Scratch& sc, RunCtx& rc);
  void place_outputs(size_t s, Lane& lane, const RunCtx& rc, const std::vector<DType>& dtypes,
                     const std::vector<Shape>& shapes, const std::vector<bool>& known) const;
  void check_outputs(size_t s, Lane& lane, RunCtx& rc, bool planned_shapes, uint64_t allocated,
                     const std::vector<DType>& dtypes, const std::vector<Shape>& shapes);
  // Widens a recorded plan's lifetimes to whole groups: steps of a group run at once.
  void widen_to_groups(Structure& st) const;
  Tensor copy_out(const Tensor& t) const;  // into memory of its own (out of the arena)
  // The key's graph capture (recorded now, running the plan's steps, if it has none yet); nullptr when
  // it cannot be captured.
  std::shared_ptr<CapturedRun> captured_for(Scratch& sc, const PlanCache::Found& found,
                                            const std::vector<Tensor>& inputs);

  std::shared_ptr<const Graph> graph_;
  Device& device_;
  Device& cpu_;
  bool hetero_ = false;  // device_ is not the CPU: steps are placed, values cross
  DeviceResidency residency_;
  GraphCapture capture_;
  std::atomic<bool> graph_capture_{false};
  std::shared_ptr<ThreadPool> pool_;
  std::unique_ptr<SubgraphExecutors> subgraphs_;  // control-flow nodes' subgraphs (null: the graph has none)
  TraceSink trace_;
  std::unique_ptr<WeightStreamer> streamer_;
  std::unique_ptr<ActivationSpiller> spiller_;
  std::vector<std::vector<int>> readers_;  // with a spiller: per value id, the steps reading it
  std::mutex tier_mu_;                     // tiered runs go one at a time
  std::vector<Step> steps_;
  std::vector<int> last_reader_;  // per value id: the last step reading it, or -1
  std::vector<int> out_base_;     // per step: index of its first output in a plan's arrays
  std::vector<StepGroup> groups_;
  std::vector<int> group_lo_, group_hi_;  // per step: its group's first and last step
  int max_group_ = 1;
  std::atomic<bool> planning_{true};
  std::atomic<bool> inter_op_{true};
  std::atomic<bool> profiling_{false};
  std::unique_ptr<std::atomic<int64_t>[]> prof_ns_, prof_calls_;  // per step
  // Intermediates that runs on a planned key still allocated (outside the arena): 0 unless a
  // tensor outgrew its slot or a kernel did something the plan did not foresee.
  std::atomic<uint64_t> planned_allocations_{0};
  PlanCache cache_;
  std::mutex scratch_mu_;
  std::vector<std::unique_ptr<Scratch>> free_scratch_;
};

}  // namespace r1
