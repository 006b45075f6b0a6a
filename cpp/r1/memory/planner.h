// The static memory planner: a pure function from buffer lifetimes to offsets in one arena.
// It knows nothing about graphs or devices, so it is tested on its own (tests/python/runtime/test_memory_plan.py
// drives it through _core.plan_memory with random lifetimes).
//
//   std::vector<PlanBuffer> bufs = {{4096, 0, 2}, {4096, 1, 3}, {4096, 3, 5, /*inplace_parent=*/1}};
//   MemoryPlan p = plan_memory(bufs);
//   // p.offsets[i] is 64-byte aligned; buffers whose [first_step, last_step] intersect never
//   // overlap in [offset, offset + size) unless one is the honoured in-place child of the other.
//   // bufs[2] shares bufs[1]'s memory (p.inplace[2] == 1), so p.arena_bytes == 8192.
#pragma once
#include <cstddef>
#include <vector>

namespace r1 {

constexpr size_t kPlanAlignment = 64;  // cache line; also what every kernel may assume of a tensor

struct PlanBuffer {
  size_t size_bytes = 0;
  int first_step = 0;  // the step that writes it
  int last_step = 0;   // the last step that reads it (inclusive); == first_step when never read
  // A buffer this one may share: honoured when the parent's last_step is this buffer's first_step
  // (the op reads its input and writes its output at the same step, elementwise), the parent's
  // first_step is earlier, this buffer is no larger than the parent (64-byte aligned), and no
  // other buffer has claimed the parent already. -1: none.
  int inplace_parent = -1;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per buffer, multiples of kPlanAlignment
  std::vector<int> inplace;     // per buffer: the parent it shares memory with, or -1
  size_t arena_bytes = 0;       // the planned peak: max(offset + aligned size)
  size_t sum_bytes = 0;         // sum of size_bytes: what one allocation per buffer would take
};

// Throws InputError on malformed input (last_step < first_step, a parent index out of range).
MemoryPlan plan_memory(const std::vector<PlanBuffer>& buffers);

inline size_t align_up(size_t n, size_t a = kPlanAlignment) { return (n + a - 1) / a * a; }

}  // namespace r1
