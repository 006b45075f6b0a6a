#include "r1/memory/planner.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "r1/core/error.h"

namespace r1 {

namespace {

struct Group {  // an in-place chain (or a lone buffer): one region of the arena
  size_t size = 0;
  int first = 0, last = 0;
  int root = 0;
  size_t offset = 0;
};

// Follows honoured in-place links up to the chain's root.
int root_of(const std::vector<int>& inplace, int i) {
  while (inplace[i] >= 0) i = inplace[i];
  return i;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<PlanBuffer>& buffers) {
  const int n = static_cast<int>(buffers.size());
  for (int i = 0; i < n; ++i) {
    const PlanBuffer& b = buffers[i];
    R1_CHECK(b.first_step >= 0 && b.last_step >= b.first_step, InputError)
        << "buffer " << i << ": lifetime [" << b.first_step << ", " << b.last_step << "] is not a valid step range";
    R1_CHECK(b.inplace_parent >= -1 && b.inplace_parent < n, InputError)
        << "buffer " << i << ": in-place parent " << b.inplace_parent << " is out of range";
    R1_CHECK(b.size_bytes <= std::numeric_limits<size_t>::max() / 2, InputError)
        << "buffer " << i << ": size " << b.size_bytes << " is too large";
  }
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  plan.inplace.assign(n, -1);

  // In-place links, honoured in buffer order (deterministic). A parent lends its memory to one
  // child only: two children both starting at the parent's last step would both be live at once.
  std::vector<char> claimed(n, 0);
  for (int i = 0; i < n; ++i) {
    const int p = buffers[i].inplace_parent;
    if (p < 0 || p == i || claimed[p]) continue;
    // The parent is read (for the last time) by the step that writes the child, so it exists
    // before that step: along a chain first steps strictly increase and only a parent and its
    // own child are ever live at once.
    if (buffers[p].last_step != buffers[i].first_step || buffers[p].first_step >= buffers[i].first_step) continue;
    if (align_up(buffers[i].size_bytes) > align_up(buffers[p].size_bytes)) continue;
    plan.inplace[i] = p;
    claimed[p] = 1;
  }

  // One group per chain root. Sizes never grow along a chain, so the root's size covers it.
  std::vector<int> group_of(n, -1);
  std::vector<Group> groups;
  for (int i = 0; i < n; ++i) {
    if (plan.inplace[i] >= 0) continue;
    group_of[i] = static_cast<int>(groups.size());
    groups.push_back({align_up(buffers[i].size_bytes), buffers[i].first_step, buffers[i].last_step, i, 0});
  }
  for (int i = 0; i < n; ++i) {
    if (plan.inplace[i] < 0) continue;
    Group& g = groups[group_of[root_of(plan.inplace, i)]];
    g.first = std::min(g.first, buffers[i].first_step);
    g.last = std::max(g.last, buffers[i].last_step);
    g.size = std::max(g.size, align_up(buffers[i].size_bytes));
  }

  // Greedy by size (as TFLite's and onnxruntime's planners): the largest regions are placed
  // first, each into the smallest gap left among the regions already placed whose lifetimes
  // overlap its own, or past the end of all of them when no gap fits.
  std::vector<int> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const Group &ga = groups[a], &gb = groups[b];
    if (ga.size != gb.size) return ga.size > gb.size;
    if (ga.first != gb.first) return ga.first < gb.first;
    return ga.root < gb.root;
  });
  std::vector<int> placed;
  std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of overlapping placed regions
  size_t arena = 0;
  for (int gi : order) {
    Group& g = groups[gi];
    if (g.size == 0) continue;  // takes no memory; offset 0 overlaps nothing
    busy.clear();
    for (int hi : placed) {
      const Group& h = groups[hi];
      if (h.last < g.first || g.last < h.first) continue;
      busy.emplace_back(h.offset, h.offset + h.size);
    }
    std::sort(busy.begin(), busy.end());
    size_t best = std::numeric_limits<size_t>::max(), best_gap = std::numeric_limits<size_t>::max();
    size_t end = 0;  // the end of the busy regions seen so far
    for (auto& r : busy) {
      if (r.first > end) {
        size_t gap = r.first - end;
        if (gap >= g.size && gap < best_gap) {
          best_gap = gap;
          best = end;
        }
      }
      end = std::max(end, r.second);
    }
    g.offset = best != std::numeric_limits<size_t>::max() ? best : end;
    arena = std::max(arena, g.offset + g.size);
    placed.push_back(gi);
  }

  for (int i = 0; i < n; ++i) {
    plan.offsets[i] = groups[group_of[root_of(plan.inplace, i)]].offset;
    plan.sum_bytes += buffers[i].size_bytes;
  }
  plan.arena_bytes = arena;
  return plan;
}

}  // namespace r1
