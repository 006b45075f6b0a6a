// The activation spill planner: which long-lived activations leave the arena between two of their reads (written
// to the slow tier after one read, read back before the next), so that the arena fits a byte limit. A pure
// function over buffer lifetimes (no graph, no device), tested on its own (tests/python/runtime/
// test_spill_planner.py drives it through _core.plan_spills, against an exhaustive search on small cases).
//
//   std::vector<PlanBuffer> bufs = {{4 << 20, 0, 9}, {4 << 20, 1, 2}, {4 << 20, 2, 3}, ...};
//   std::vector<std::vector<int>> reads = {{9}, {2}, {3}, ...};       // per buffer: the steps that read it
//   SpillPlan p = plan_spills(bufs, reads, /*arena_limit=*/8 << 20);
//   // p.spills[k]: buffer b is written out after its read at step `after` (or after it is made) and read back
//   // into a buffer of its own (p.buffers[bufs.size() + k], live from step `use - lead` on) for its read at `use`.
//   // p.memory plans p.buffers: the original lifetimes, each spilled buffer's cut short at `after + lead`.
//
// The model. A spilled buffer's memory is held from its first step to `after + lead` and again from `use - lead`
// to its last step; in between its bytes are on disk. It moves 2 x bytes a run. With lead 1 the copies overlap
// the compute (the write finishes during step after + 1, the read runs during step use - 1); with lead 0 they do
// not, but the slots are held two steps less: plans try lead 1 first and fall back to lead 0 for every copy when
// that cannot fit. A gap is cut only where it frees a step (use - after >= 2 + 2 x lead), a buffer is cut once,
// buffers of under 64 KiB are not worth a disk round trip, and buffers that share memory in place are never cut.
// Greedy: while the arena is over the limit, find the step where the most bytes are live and cut, of the buffers
// whose gap frees that step, the smallest that alone brings it under the limit (else the largest); stop when the
// arena fits or nothing frees the peak step. Then undo every cut whose undoing still fits, largest first. Returns
// the plan with the smallest arena seen (no spills when none helped). Measured against an exhaustive search in
// the test.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "r1/memory/planner.h"

namespace r1 {

struct SpillChoice {
  int buffer = 0;  // index into the planned buffers
  int after = 0;   // written out after this step (a read of it, or the step that makes it)
  int use = 0;     // read back for this step (its next read)
  int lead = 1;    // 1: the write may finish during step after + 1 and the read start at step use - 1; 0: neither
};

struct SpillPlan {
  std::vector<SpillChoice> spills;
  std::vector<PlanBuffer> buffers;  // the input's, cut where spilled, then one read-back buffer per spill
  MemoryPlan memory;                // over `buffers`
  bool fits = false;                // memory.arena_bytes <= the limit
  uint64_t bytes_moved = 0;         // per run: 2 x the bytes of each spilled buffer
};

constexpr size_t kMinSpillBytes = size_t{64} << 10;  // smaller buffers are not worth a disk round trip

// reads[i]: the steps reading buffer i, ascending, each in (first_step, last_step] (the step that makes it is
// not a read). made[i] (empty: first_step): the step that writes buffer i, when its lifetime was widened to start
// earlier (a group of steps running side by side): no write-out is queued before it. Throws InputError when reads
// do not match the buffers.
SpillPlan plan_spills(const std::vector<PlanBuffer>& buffers, const std::vector<std::vector<int>>& reads,
                      size_t arena_limit, const std::vector<int>& made = {});

}  // namespace r1
