// A Plan is what the executor learned from running a graph once for an input-shape key: which
// outputs own memory and which are views, the lifetimes of that memory, and each step's output
// shapes. The memory planner (r1/memory/planner.h) turns lifetimes and sizes into offsets in one
// arena; later runs hand kernels views into a checked-out arena instead of allocating.
//
//   PlanRecorder rec(graph, last_reader, /*layout=*/nullptr, /*arena=*/nullptr);
//   ... after each step: rec.record_step(s, node, ins, outs, ctx.allocated_mask(), dtypes, shapes, known,
//                                        entry.inplace_inputs);
//   PlanRecorder::Result r = rec.finish(key);
//   auto plan = std::make_shared<Plan>(graph, r.structure, r.shapes->need, bucket);
//   std::shared_ptr<Buffer> arena = plan->checkout(allocator);   ... plan->checkin(arena);
//
// A Plan's layout is immutable once made (apart from the arena free list, the key list the
// PlanCache guards, and `stale`), so runs on several threads read it without locks.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "r1/backend/device.h"
#include "r1/ir/graph.h"
#include "r1/memory/planner.h"

namespace r1 {

// One step's output types in the form KernelContext takes.
struct StepShapes {
  std::vector<DType> dtypes;
  std::vector<Shape> shapes;
  std::vector<bool> known;
};

// The memory structure of a run; two keys that agree on it can share one arena layout.
struct Structure {
  std::vector<int> out_storage;     // per (step, output): the storage its bytes lie in, or -1
  std::vector<char> out_fresh;      // per (step, output): allocated by the kernel in that storage
  std::vector<int> first, last;     // per storage: producing step, last step any view is read
  std::vector<int> inplace_parent;  // per storage: a storage whose memory it may take over, or -1
  bool operator==(const Structure& o) const {
    return out_storage == o.out_storage && out_fresh == o.out_fresh && first == o.first && last == o.last &&
           inplace_parent == o.inplace_parent;
  }
};

// What one exact input-shape key needs.
struct KeyShapes {
  std::vector<int64_t> key;
  std::vector<StepShapes> steps;
  std::vector<char> dynamic;  // per step: output shapes depend on input contents; infer every run
  std::vector<size_t> need;   // per storage: bytes
};

// A storage that leaves the arena between two reads (memory/spill_planner.h): written to the offload file after
// step `after`, read back into its second slot for step `use`. runtime/activation_spill.h moves the bytes.
struct PlanSpill {
  int storage = 0;
  int after = 0, use = 0;
  int lead = 1;              // 1: the write may finish during step after + 1, the read runs during step use - 1
  size_t offset_back = 0;    // the slot it is read back into
  size_t bytes = 0;          // the slot's size
  uint64_t file_offset = 0;  // in the spill file, page-aligned
  std::vector<int> values;   // the value ids whose bytes lie in it (views included)
};

// Index of each step's first output in the per-output arrays of a Structure.
std::vector<int> output_bases(const Graph& g);

class Plan {
 public:
  // arena_limit: when the arena would be larger, long-lived storages spill between reads until it fits (or
  // nothing more helps). SIZE_MAX: never.
  Plan(const Graph& g, Structure s, const std::vector<size_t>& need, std::vector<int64_t> bucket,
       size_t arena_limit = SIZE_MAX);
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  const Structure& structure() const { return structure_; }
  const std::vector<int64_t>& bucket() const { return bucket_; }
  size_t offset(int storage) const { return offsets_[storage]; }
  size_t capacity(int storage) const { return capacity_[storage]; }
  int value_storage(int value_id) const { return value_storage_[value_id]; }
  bool inplace_step(size_t step) const { return inplace_step_[step] != 0; }
  size_t arena_bytes() const { return arena_bytes_; }
  size_t sum_bytes() const { return sum_bytes_; }
  bool fits(const std::vector<size_t>& need) const;
  const std::vector<PlanSpill>& spills() const { return spills_; }
  bool has_spills() const { return !spills_.empty(); }
  uint64_t spill_file_bytes() const { return spill_file_bytes_; }
  // [lo, hi) of the arena lies in the storage's slot (either slot of a spilled one).
  bool holds(int storage, size_t lo, size_t hi) const;

  // An arena no other run is using: one from the free list, or a new one.
  std::shared_ptr<Buffer> checkout(Allocator& alloc);
  void checkin(std::shared_ptr<Buffer> arena);
  int arenas() const;

  // Set when a run found the plan wrong (a shape or a view it did not predict): the next run of
  // its bucket records afresh and replaces it.
  std::atomic<bool> stale{false};
  // The exact keys planned in this layout, newest first; guarded by the PlanCache's mutex.
  std::vector<std::shared_ptr<const KeyShapes>> keys;

 private:
  void plan_spills_within(const Graph& g, const std::vector<PlanBuffer>& bufs, size_t arena_limit, MemoryPlan* mp);
  Structure structure_;
  std::vector<int64_t> bucket_;
  std::vector<size_t> offsets_, capacity_;
  std::vector<int> value_storage_;
  std::vector<char> inplace_step_;
  size_t arena_bytes_ = 0, sum_bytes_ = 0;
  std::vector<PlanSpill> spills_;
  std::vector<int> spill_of_;  // per storage: index into spills_, or -1
  uint64_t spill_file_bytes_ = 0;
  mutable std::mutex arena_mu_;
  std::vector<std::shared_ptr<Buffer>> free_arenas_;
  int arenas_ = 0;
};

// Watches one run step by step and derives its Structure and KeyShapes.
class PlanRecorder {
 public:
  // last_reader: per value id, the last step reading it (-1: none). layout/arena: the plan and
  // arena this run places outputs in (a new key in a known bucket), or nullptr.
  PlanRecorder(const Graph& g, const std::vector<int>& last_reader, const Plan* layout, const Buffer* arena);

  // After step s ran: its inputs (nullptr for omitted), its outputs, which outputs the kernel
  // allocated (KernelContext::allocated_mask), what inference said about them, and the inputs its
  // kernel may write output 0 over (KernelEntry::inplace_inputs).
  void record_step(size_t s, const Node& n, const std::vector<const Tensor*>& ins, const std::vector<Tensor>& outs,
                   uint64_t allocated, const std::vector<DType>& dtypes, const std::vector<Shape>& shapes,
                   const std::vector<bool>& known, uint32_t inplace_inputs);

  struct Result {
    Structure structure;
    std::shared_ptr<KeyShapes> shapes;
  };
  Result finish(std::vector<int64_t> key);

 private:
  struct Region {
    const Buffer* buf = nullptr;
    size_t lo = 0, hi = 0;
  };
  Region region(int value_id, const Tensor& t) const;
  bool shapes_depend_on_data(const Node& n, const std::vector<const Tensor*>& ins, const std::vector<DType>& dtypes,
                             const std::vector<Shape>& shapes) const;

  const Graph& g_;
  const std::vector<int>& last_reader_;
  const Plan* layout_;
  const Buffer* arena_;
  std::vector<int> base_;
  std::vector<char> shape_static_, content_static_;  // per value id
  std::vector<int> val_storage_;                     // per value id
  std::vector<Region> storage_region_;               // per storage: where the kernel put it
  std::vector<size_t> need_;
  std::vector<int> first_;
  struct Inplace {
    int step, child, parent;
  };
  std::vector<Inplace> inplace_;
  Structure s_;
  std::vector<StepShapes> steps_;
  std::vector<char> dynamic_;
};

}  // namespace r1
