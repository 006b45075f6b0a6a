// The stream pipeline of the NVMe tier: runs a model whose weights do not all fit its memory budget.
//
//   WeightStreamer ws(graph, steps, device, pools, options);   // steps: the executor's nodes, in order
//   ws.begin_run(recording, arena_bytes);                       // plans what stays, starts the loader thread
//   const Tensor& w = ws.acquire(s, value);                     // step s: blocks until its weight is in memory
//   ws.finished(s);                                             // releases what step s was the last to read
//   ws.end_run();                                               // (RunGuard does begin/end around a run)
//
// What it does. Every constant of 64 KiB or more (a weight) is read from its home on disk, the .r1 file it was
// mapped from (BackingFile::locate), with O_DIRECT (io/direct_reader.h): never through the mapping, so neither
// the page cache nor the process's resident memory fills with the model. The tier planner (memory/tier_planner.h)
// decides which weights stay resident across runs, given the budget left after the activations the runs of this
// engine needed (the largest seen); the rest stream. A loader thread walks the run's loads in step order and reads
// each as early as the budget allows (and at most `prefetch` steps ahead when set), while the compute thread runs
// earlier steps: the read of step i+k overlaps the compute of step i. Streamed weights' memory goes back to a
// free list keyed by size after their last reader (a transformer's layers have equal shapes, so the next layer
// reuses the pages: no page faults, no mmap per load), and from there to the system when the budget needs it.
// On a GPU (or sim:0) a weight goes disk -> pinned host staging -> device memory, the copy on a copy stream.
// A run that records a plan (the first of an input shape) streams every weight: its activation peak is not known
// until it has run. Between runs the loader goes on reading the next run's first streamed weights into the free
// part of the budget (the next run of the same plan starts with them in memory; another plan lets them go).
//
// Failure. A read error or a file truncated under the reader fails the run with ModelError naming the file; a
// budget that cannot hold one step's weights next to the run's activations fails it with DeviceError naming the
// bytes it needed. The streamer is usable again for the next run either way.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "r1/backend/device.h"
#include "r1/io/direct_reader.h"
#include "r1/ir/graph.h"
#include "r1/runtime/memory_pool.h"
#include "r1/runtime/trace.h"

namespace r1 {

struct TieringOptions {
  int prefetch = -1;                           // steps ahead a weight may be read; -1: as far as the budget allows
  size_t min_stream_bytes = size_t{64} << 10;  // smaller constants stay where the graph has them
  DirectReadOptions read;                      // queue depth and request size of the disk reads
  size_t staging_bytes = size_t{16} << 20;     // per staging buffer (two) on the disk -> host -> device path
  std::string offload_dir = "/tmp";            // where activations spill (runtime/activation_spill.h)
};

struct TieringStats {
  size_t weights = 0, weight_bytes = 0;     // streamable weights and their bytes
  size_t resident = 0, resident_bytes = 0;  // of them, planned to stay loaded
  size_t loaded_bytes = 0;                  // weights in memory now (between runs: the resident ones loaded)
  size_t fixed_bytes = 0;                   // small constants and reader staging: always held
  size_t min_budget = 0;                    // the least budget any run can fit (one step's weights + fixed)
  size_t activation_bytes = 0;              // the largest activation peak of the runs that followed a plan
  uint64_t runs = 0;
  uint64_t last_bytes_read = 0, bytes_read = 0;  // from disk: the last run, and all runs
  double last_read_s = 0, read_s = 0;            // time the loader spent reading
  double last_stall_s = 0, stall_s = 0;          // time the compute waited for a weight
  double last_run_s = 0, run_s = 0;
  uint64_t loads = 0, reused_buffers = 0;
  size_t weight_steps = 0;  // steps that read a streamable weight
  uint64_t last_loads = 0;  // weight reads of the last run
};

// Bytes of the constants of `min_bytes` or more that have no home on disk (made in memory: imported from ONNX,
// or rewritten by a pass at load). They cannot stream: the engine writes them to a file first (offload_dir).
size_t unhomed_weight_bytes(const Graph& g, size_t min_bytes);

class WeightStreamer final : public Reclaimer {
 public:
  // steps: the executor's nodes in run order; metadata_only[s]: step s reads only its inputs' shapes.
  // target: where kernels read the weights (the CPU, or a GPU with host staging); target_pool: its budget;
  // host_pool: the staging buffers' budget on the host (null: uncounted), used only when target is not the CPU.
  WeightStreamer(const Graph& g, const std::vector<const Node*>& steps, const std::vector<char>& metadata_only,
                 Device& target, std::shared_ptr<MemoryPool> target_pool, std::shared_ptr<MemoryPool> host_pool,
                 TieringOptions options, TraceSink* trace = nullptr);
  ~WeightStreamer() override;
  WeightStreamer(const WeightStreamer&) = delete;
  WeightStreamer& operator=(const WeightStreamer&) = delete;

  bool manages(const Value* v) const { return static_cast<size_t>(v->id) < index_.size() && index_[v->id] >= 0; }
  // The allocator the executor's own allocations on the target tier go through (counted as activations).
  BudgetAllocator& activation_allocator() { return *activations_; }

  void begin_run(bool recording, size_t arena_bytes);
  const Tensor& acquire(int step, const Value* v);
  bool ready(const Value* v) const;  // in memory now (acquire would not wait)
  void finished(int step);
  void end_run();
  TieringStats stats() const;
  // What the budget leaves an arena when the largest step's weights stream through it and `outside` bytes of
  // activations (a run's outputs) live outside the arena.
  size_t activation_room(size_t outside) const;
  void set_prefetch(int steps) { options_.prefetch = steps; }
  MemoryPool& pool() const { return *pool_; }
  // On a shared pool: another engine needs room. Between runs, lets go of resident weights and cached buffers
  // (the next run plans again); during one, of cached buffers and the resident weights it has used for the last
  // time this run.
  size_t reclaim() override;

  // Begins a run on construction, ends it on destruction (also when the run throws).
  class RunGuard {
   public:
    RunGuard(WeightStreamer* ws, bool recording, size_t arena_bytes) : ws_(ws) {
      if (ws_) ws_->begin_run(recording, arena_bytes);
    }
    ~RunGuard() {
      if (ws_) ws_->end_run();
    }
    RunGuard(const RunGuard&) = delete;
    RunGuard& operator=(const RunGuard&) = delete;

   private:
    WeightStreamer* ws_;
  };

 private:
  struct Item {
    const Value* value;
    size_t bytes;
    std::vector<int> uses;
    int reader;       // index into readers_
    uint64_t offset;  // in that file
    bool resident = false;
    std::vector<uint8_t> drop;  // per gap between uses: released and read again
    Tensor loaded;              // defined while in memory
  };
  struct Load {
    int item, step;
  };
  // shrink: the resident set only loses weights (the budget left for them shrank; what is loaded stays loaded).
  void plan(size_t activation_bytes, bool stream_all, bool shrink);
  void loader_main();
  void stop_loader();  // the preload between runs, when one is going
  // Room the loader leaves for the activations this run has yet to allocate: the largest activation peak a run
  // had, less what is allocated now (before the first run has measured one: a quarter of the budget).
  size_t headroom() const;
  void start_preload();  // (mu_ held) reads the next run's first streamed weights while memory is free
  std::shared_ptr<Buffer> obtain(size_t bytes);       // from the free list or the pool; null when the run must stop
  std::shared_ptr<Buffer> take_cached(size_t bytes);  // (mu_ held) a free-list buffer of exactly `bytes`, or null
  std::shared_ptr<Buffer> new_buffer(size_t bytes);   // memory for a weight whose bytes the pool granted
  size_t others_bytes() const;                        // (mu_ held) what other engines on the pool hold
  void sort_loads();                                  // loads_ in step order
  void read_items(const std::vector<int>& items, const std::vector<std::shared_ptr<Buffer>>& bufs);
  void recycle(Tensor& t);
  // (mu_ held) During a run: lets go of resident weights whose last use this run is over (the next run reads them
  // again); returns the bytes. What a busy engine can give back on a shared pool, or take back itself.
  size_t drop_used_resident();
  void fail(const std::string& what, bool budget);

  Device& target_;
  bool on_host_;
  TraceSink* trace_;  // reads and stalls go here when it is enabled (may be null)
  std::shared_ptr<MemoryPool> pool_, host_pool_;
  TieringOptions options_;
  std::unique_ptr<BudgetAllocator> activations_;
  std::vector<int> index_;  // per value id: item index or -1
  std::vector<Item> items_;
  std::vector<std::unique_ptr<DirectReader>> readers_;
  std::vector<std::string> reader_names_;         // the files' names, for messages (readers open /proc/self/fd/N)
  std::vector<std::shared_ptr<Buffer>> staging_;  // GPU path: pinned host buffers, reused
  std::unique_ptr<Stream> copy_stream_;
  std::vector<std::unique_ptr<Event>> staged_;
  int num_steps_ = 0;
  size_t fixed_bytes_ = 0, min_weights_ = 0;
  size_t host_bytes_ = 0;          // GPU path: read and pinned staging held in host_pool_
  size_t planned_for_ = SIZE_MAX;  // the activation bytes the resident set was planned with
  uint64_t planned_runs_ = 0;      // runs that followed a plan (their activation peak is the one to plan with)
  bool planned_stream_all_ = false;

  // Per run.
  std::vector<Load> loads_;
  std::vector<std::vector<int>> release_after_;  // per step: items to let go of
  std::vector<uint8_t> ready_;                   // per item: loaded for the use being waited on
  mutable std::mutex mu_;                        // the run's state, the free list and the stats
  std::condition_variable cv_;
  size_t next_load_ = 0;        // loads issued by the loader
  int compute_step_ = 0;        // the step the compute runs (or waits for)
  int done_below_ = 0;          // every step before this one has finished (a group's steps finish in any order)
  std::vector<char> finished_;  // per step, this run
  int waiting_step_ = -1;       // the step the compute waits for a weight of, or -1
  bool stop_ = false, stuck_ = false, busy_ = false;
  bool preloading_ = false;  // the loader reads ahead for the next run (between runs): it never waits for memory
  uint64_t preload_bytes_ = 0;
  double preload_s_ = 0;
  std::string error_;
  bool budget_error_ = false;
  std::thread loader_;
  std::multimap<size_t, std::shared_ptr<Buffer>> free_;  // released weight buffers, by size
  std::chrono::steady_clock::time_point run_start_;
  double run_read_s_ = 0, run_stall_s_ = 0;
  uint64_t run_bytes_ = 0, run_loads_ = 0, preload_loads_ = 0;

  TieringStats stats_;
};

}  // namespace r1
