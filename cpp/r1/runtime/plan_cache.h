// The executor's plans, keyed by input shapes. Keys are bucketed (every dim rounded up to a power
// of two): the keys of a bucket share one Plan (one arena layout, sized for the largest key seen)
// as long as each of their tensors fits its slot, so a server seeing many sequence lengths keeps a
// handful of arenas, not one per length. Each exact key also keeps its own step shapes, so a
// repeated shape runs without shape inference. A bucket gets a second plan only when its keys
// disagree on structure (e.g. a dim that broadcasts differently), so they do not evict each other.
// Bounded: past kMaxPlans the least recently used plan is dropped.
//
//   PlanCache cache;
//   shape_key(inputs, &key);
//   bucket_of(key, &bucket);
//   PlanCache::Found f = cache.find(key, bucket);   // f.shapes: exact hit; f.plan: the bucket's layout
//   ... record a run ...  cache.add(graph, recorder.finish(key), bucket, f.plan);
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "r1/runtime/plan.h"

namespace r1 {

// rank0, dims0..., rank1, dims1..., for the inputs in graph order.
void shape_key(const std::vector<Tensor>& inputs, std::vector<int64_t>* key);
// The same with every dim rounded up to a power of two.
void bucket_of(const std::vector<int64_t>& key, std::vector<int64_t>* bucket);

class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 8;         // arena layouts kept (about one per bucket)
  static constexpr size_t kMaxKeysPerPlan = 32;  // exact keys remembered per layout

  struct Found {
    std::shared_ptr<Plan> plan;               // the bucket's layout, or null
    std::shared_ptr<const KeyShapes> shapes;  // this exact key's shapes, or null
  };
  // Counts a hit when the exact key is planned, a miss otherwise. A stale plan is not returned.
  Found find(const std::vector<int64_t>& key, const std::vector<int64_t>& bucket);
  // After a recording run of `bucket`: the key joins `used` (the plan the run placed outputs
  // in) when its structure matches and every tensor fits; otherwise a new plan replaces the
  // bucket's, taking over the old plan's keys that fit it.
  // arena_limit: a new plan spills activations to fit it (Plan's constructor).
  void add(const Graph& g, PlanRecorder::Result r, const std::vector<int64_t>& bucket,
           const std::shared_ptr<Plan>& used, size_t arena_limit = SIZE_MAX);
  void mark_stale(Plan& p);

  struct Stats {
    size_t arena_bytes = 0, sum_intermediate_bytes = 0;  // of the plan used last
    size_t plans_cached = 0, keys_cached = 0, arenas = 0, total_arena_bytes = 0;
    uint64_t plan_hits = 0, plan_misses = 0, bucket_reuses = 0, replans = 0;
    size_t steps = 0, inplace_steps = 0, inferred_steps = 0;  // of the plan and key used last
    uint64_t planned_allocations = 0;                         // filled in by the Executor
  };
  Stats stats() const;

 private:
  void touch(size_t i);  // moves plans_[i] to the front; mu_ held
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Plan>> plans_;  // most recently used first
  std::shared_ptr<Plan> last_;
  std::shared_ptr<const KeyShapes> last_key_;
  uint64_t hits_ = 0, misses_ = 0, bucket_reuses_ = 0, replans_ = 0;
};

}  // namespace r1
