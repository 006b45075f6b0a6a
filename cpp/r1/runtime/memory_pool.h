// A byte budget for one memory tier ("cpu", "cuda:0", "sim:0"), and the allocator that draws from it.
//
//   auto pool = std::make_shared<MemoryPool>("cpu", 2ull << 30);      // or MemoryPool::shared("cpu", bytes)
//   BudgetAllocator alloc(pool, nullptr);                             // page memory, counted in the pool
//   std::shared_ptr<Buffer> b = alloc.allocate(64 << 20);             // pool->used() grows by 64 MiB ...
//   b.reset();                                                        // ... and shrinks when the last owner goes
//
// Why: a memory budget (issue 12) counts everything an engine holds on a tier: resident weights, the weights
// streaming through, the activation arena and staging buffers. Every one of them is allocated through a pool, so
// one number is the truth. The engine's own allocations (activations) always succeed and may go past the
// capacity (what they need is only known once a run of a new shape has happened: the overshoot is recorded);
// the weight streamer only takes what fits (try_take) and waits for its own releases otherwise.
// A shared pool (MemoryPool::shared) is one budget for every engine of the process on that tier.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "r1/backend/device.h"

namespace r1 {

// Something holding bytes of a pool that it can give back on request (an idle engine's resident weights).
class Reclaimer {
 public:
  virtual ~Reclaimer() = default;
  // Gives back what it can without blocking (nothing while it runs, but cached buffers); returns the bytes.
  virtual size_t reclaim() = 0;
};

class MemoryPool {
 public:
  MemoryPool(std::string tier, size_t capacity) : tier_(std::move(tier)), capacity_(capacity) {}
  // One pool per tier for the whole process, made on first use; a later call with another capacity resizes it.
  static std::shared_ptr<MemoryPool> shared(const std::string& tier, size_t capacity);

  const std::string& tier() const { return tier_; }
  size_t capacity() const { return capacity_.load(); }
  void set_capacity(size_t bytes);
  size_t used() const { return used_.load(); }
  size_t peak() const { return peak_.load(); }
  void reset_peak() { peak_ = used_.load(); }

  void take(size_t n);                           // always (may exceed the capacity)
  bool try_take(size_t n, size_t headroom = 0);  // only when used + n + headroom <= capacity
  void give(size_t n) { used_ -= n; }

  // Runs of engines drawing on this pool, and how many of them are stuck: their loader waits for memory
  // while their compute waits for that loader. When every active run is stuck, nothing will ever be given back.
  void run_started() { ++active_runs_; }
  void run_ended() { --active_runs_; }
  void set_stuck(bool stuck) { stuck ? ++stuck_runs_ : --stuck_runs_; }
  bool all_stuck() const { return active_runs_.load() > 0 && stuck_runs_.load() >= active_runs_.load(); }

  // Engines that share the pool register; one that needs room asks the others, the least recently used
  // first, until `bytes` came back (so the models used most recently stay resident). Returns the bytes freed.
  bool is_shared() const { return shared_; }
  void add_reclaimer(Reclaimer* r);
  void remove_reclaimer(Reclaimer* r);
  void touch(Reclaimer* r);  // r was just used
  size_t reclaim(size_t bytes, const Reclaimer* except);

 private:
  std::string tier_;
  std::atomic<size_t> capacity_, used_{0}, peak_{0};
  std::atomic<int> active_runs_{0}, stuck_runs_{0};
  bool shared_ = false;
  std::mutex reclaim_mu_;
  std::vector<std::pair<uint64_t, Reclaimer*>> reclaimers_;  // (last use, who)
  uint64_t clock_ = 0;
};

// Page-aligned memory straight from the kernel (mmap), returned to it when freed: what a budget counts is
// what the process holds (a caching allocator would keep freed blocks). 4 KiB alignment is what O_DIRECT reads
// into. `writable` false: numpy views are read-only and no kernel writes in place into it (weights).
std::shared_ptr<Buffer> allocate_pages(size_t bytes, bool writable = true);

// Allocations counted in a pool: `inner` (a device's allocator) or, when null, allocate_pages.
class BudgetAllocator final : public Allocator {
 public:
  BudgetAllocator(std::shared_ptr<MemoryPool> pool, Allocator* inner) : pool_(std::move(pool)), inner_(inner) {}
  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  MemoryKind kind() const override { return inner_ ? inner_->kind() : MemoryKind::Host; }
  void* native_stream() const override { return inner_ ? inner_->native_stream() : nullptr; }
  int device_index() const override { return inner_ ? inner_->device_index() : -1; }
  MemoryPool& pool() const { return *pool_; }
  size_t live() const { return live_.load(); }  // bytes this allocator's buffers hold now
  size_t peak() const { return peak_.load(); }
  void reset_peak() { peak_ = live_.load(); }  // a run starts: its peak counts from what is held now

 private:
  std::shared_ptr<MemoryPool> pool_;
  Allocator* inner_;
  std::shared_ptr<std::atomic<size_t>> live_counter_ = std::make_shared<std::atomic<size_t>>(0);
  std::atomic<size_t>& live_ = *live_counter_;
  std::atomic<size_t> peak_{0};
};

// Wraps a buffer whose `bytes` were taken from `pool` already: gives them back when the last owner lets go.
std::shared_ptr<Buffer> counted_buffer(std::shared_ptr<Buffer> inner, std::shared_ptr<MemoryPool> pool, size_t bytes,
                                       std::shared_ptr<std::atomic<size_t>> live = nullptr, bool writable = true);

}  // namespace r1
