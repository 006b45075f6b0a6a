// Moves the activations a Plan spills (runtime/plan.h, memory/spill_planner.h) between the arena and an unlinked
// file in offload_dir, on a thread of its own, while the compute goes on.
//
//   ActivationSpiller spiller(offload_dir, pool, &trace);          // one per tiered CPU executor
//   SpillRun run(spiller, graph, plan, arena, env);                 // one per run that follows a spilling plan
//   for (s ...) { run.before(s); <run step s>; run.after(s); }
//
// The timeline, per spilled storage (after, use, lead): after step `after` its bytes are queued for writing; the
// plan keeps its slot until step after + lead ends, so before step after + lead + 1 starts the write must be done.
// Before step use - lead starts (the read-back slot is free from then on) the read is queued; before step `use`
// starts it must be done, and every live value lying in the storage is re-pointed at the read-back slot. The compute
// waits only when a copy is late (the wait is counted, and traced as a stall). Tiered runs go one at a time, so one
// file serves every plan: a plan's spills lie at fixed page-aligned offsets in it.
//
// A failed write or read (a full disk) fails the run with DeviceError naming offload_dir; the next run starts
// clean. The file exists from the first spill to the spiller's end; its 1 MiB bounce buffer (made only for copies
// that are not whole pages) counts in the pool.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "r1/io/spill_file.h"
#include "r1/runtime/memory_pool.h"
#include "r1/runtime/plan.h"
#include "r1/runtime/trace.h"

namespace r1 {

struct SpillStats {
  size_t spills = 0;                   // storages the last spilling plan run spilled
  uint64_t runs = 0;                   // runs that spilled
  uint64_t last_bytes = 0, bytes = 0;  // written and read back: the last run, and all runs
  double last_wait_s = 0, wait_s = 0;  // time the compute waited for a copy
};

class ActivationSpiller {
 public:
  ActivationSpiller(std::string dir, std::shared_ptr<MemoryPool> pool, TraceSink* trace);
  ~ActivationSpiller();
  ActivationSpiller(const ActivationSpiller&) = delete;
  ActivationSpiller& operator=(const ActivationSpiller&) = delete;

  // Queues a copy between `mem` and the file; returns its ticket (copies run in order).
  uint64_t submit(bool write, char* mem, size_t bytes, uint64_t file_offset, std::string what);
  // Blocks until the copy is done; throws DeviceError when it (or one queued before it in this run) failed.
  void wait(uint64_t ticket);
  void drain() noexcept;  // waits for every queued copy, errors or not
  void start_run();       // forgets the previous run's error
  void end_run(size_t spills, uint64_t bytes, double wait_s);
  SpillStats stats() const;
  TraceSink* trace() const { return trace_; }

 private:
  struct Job {
    uint64_t ticket;
    bool write;
    char* mem;
    size_t bytes;
    uint64_t file_offset;
    std::string what;
  };
  void worker_main();
  std::string dir_;
  std::shared_ptr<MemoryPool> pool_;
  TraceSink* trace_;
  std::unique_ptr<SpillFile> file_;  // made by the worker on the first copy
  size_t bounce_counted_ = 0;        // its bounce buffer's bytes, taken from the pool
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  uint64_t next_ticket_ = 1, done_ = 0;
  std::string error_;
  bool stop_ = false;
  std::thread worker_;
  SpillStats stats_;
};

// One run's spills (see above).
class SpillRun {
 public:
  SpillRun(ActivationSpiller& spiller, const Graph& g, const Plan& plan, const std::shared_ptr<Buffer>& arena,
           std::vector<Tensor>& env);
  ~SpillRun();  // waits for the copies in flight: they use the arena, which goes back to the plan after
  SpillRun(const SpillRun&) = delete;
  SpillRun& operator=(const SpillRun&) = delete;
  void before(int step);
  void after(int step);

 private:
  void wait(uint64_t ticket, size_t k);
  ActivationSpiller& sp_;
  const Graph& g_;
  const Plan& plan_;
  const std::shared_ptr<Buffer>& arena_;
  std::vector<Tensor>& env_;
  std::vector<uint64_t> write_, read_;  // per spill: the ticket in flight, or 0
  uint64_t bytes_ = 0;
  double wait_s_ = 0;
};

}  // namespace r1
