#include "r1/memory/spill_planner.h"

#include <algorithm>
#include <cstddef>

#include "r1/core/error.h"

namespace r1 {

namespace {

// The step where the most bytes are live (the earliest of equals).
int peak_step(const std::vector<PlanBuffer>& bufs, size_t* peak_bytes) {
  int steps = 0;
  for (const PlanBuffer& b : bufs) steps = std::max(steps, b.last_step + 1);
  std::vector<int64_t> delta(static_cast<size_t>(steps) + 1, 0);
  for (const PlanBuffer& b : bufs) {
    delta[b.first_step] += static_cast<int64_t>(align_up(b.size_bytes));
    delta[b.last_step + 1] -= static_cast<int64_t>(align_up(b.size_bytes));
  }
  int best = 0;
  int64_t live = 0, most = -1;
  for (int s = 0; s < steps; ++s) {
    live += delta[s];
    if (live > most) {
      most = live;
      best = s;
    }
  }
  *peak_bytes = static_cast<size_t>(std::max<int64_t>(most, 0));
  return best;
}

// The plan of `buffers` with the given cuts.
SpillPlan with_cuts(const std::vector<PlanBuffer>& buffers, const std::vector<SpillChoice>& cuts, size_t limit) {
  SpillPlan p;
  p.buffers = buffers;
  p.spills = cuts;
  for (const SpillChoice& c : cuts) {
    const PlanBuffer orig = buffers[c.buffer];
    p.buffers[c.buffer].last_step = c.after + c.lead;
    p.buffers.push_back({orig.size_bytes, c.use - c.lead, orig.last_step, -1});
    p.bytes_moved += 2 * static_cast<uint64_t>(orig.size_bytes);
  }
  p.memory = plan_memory(p.buffers);
  p.fits = p.memory.arena_bytes <= limit;
  return p;
}

// Greedy cuts (see the header), every copy with the given lead.
SpillPlan greedy(const std::vector<PlanBuffer>& buffers, const std::vector<std::vector<int>>& reads,
                 const std::vector<int>& made, const std::vector<char>& cuttable, size_t arena_limit, int lead) {
  const int n = static_cast<int>(buffers.size());
  SpillPlan cur = with_cuts(buffers, {}, arena_limit);
  SpillPlan best = cur;
  std::vector<char> cut(static_cast<size_t>(n), 0);
  while (!cur.fits) {
    size_t live = 0;
    const int p = peak_step(cur.buffers, &live);
    // Of the buffers whose gap frees the peak step: the smallest that alone brings it under the limit, else the
    // largest.
    const size_t excess = live > arena_limit ? live - arena_limit : 0;
    SpillChoice pick{-1, 0, 0, lead};
    auto better = [&](int i) {
      if (pick.buffer < 0) return true;
      const size_t a = align_up(buffers[i].size_bytes), b = align_up(buffers[pick.buffer].size_bytes);
      if ((a >= excess) != (b >= excess)) return a >= excess;
      return a >= excess ? a < b : a > b;
    };
    for (int i = 0; i < n; ++i) {
      if (!cuttable[i] || cut[i] || !better(i)) continue;
      int after = made[i];  // a write-out starts once the buffer is written
      for (int r : reads[i]) {
        if (after + 1 + lead <= p && p <= r - 1 - lead) {
          pick = {i, after, r, lead};
          break;
        }
        after = r;
      }
    }
    if (pick.buffer < 0) break;  // nothing frees the peak step
    cut[pick.buffer] = 1;
    std::vector<SpillChoice> cuts = cur.spills;
    cuts.push_back(pick);
    cur = with_cuts(buffers, cuts, arena_limit);
    if (cur.memory.arena_bytes < best.memory.arena_bytes) best = cur;
  }
  if (!best.fits) return best;
  // Cuts made for an earlier peak may not be needed once later ones are in: undo each whose undoing still fits,
  // the largest first.
  std::vector<SpillChoice> cuts = best.spills;
  std::stable_sort(cuts.begin(), cuts.end(), [&](const SpillChoice& a, const SpillChoice& b) {
    return buffers[a.buffer].size_bytes > buffers[b.buffer].size_bytes;
  });
  for (size_t k = 0; k < cuts.size();) {
    std::vector<SpillChoice> fewer = cuts;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(k));
    SpillPlan q = with_cuts(buffers, fewer, arena_limit);
    if (q.fits) {
      cuts = std::move(fewer);
      best = std::move(q);
    } else {
      ++k;
    }
  }
  return best;
}

}  // namespace

SpillPlan plan_spills(const std::vector<PlanBuffer>& buffers, const std::vector<std::vector<int>>& reads,
                      size_t arena_limit, const std::vector<int>& made_in) {
  const int n = static_cast<int>(buffers.size());
  R1_CHECK(made_in.empty() || made_in.size() == buffers.size(), InputError)
      << "plan_spills: " << made_in.size() << " producing steps for " << n << " buffers";
  std::vector<int> made(made_in);
  if (made.empty())
    for (const PlanBuffer& b : buffers) made.push_back(b.first_step);
  R1_CHECK(reads.size() == buffers.size(), InputError)
      << "plan_spills: " << reads.size() << " read lists for " << n << " buffers";
  std::vector<char> cuttable(static_cast<size_t>(n), 1);
  for (int i = 0; i < n; ++i) {
    const PlanBuffer& b = buffers[i];
    R1_CHECK(made[i] >= b.first_step && made[i] <= b.last_step, InputError)
        << "plan_spills: buffer " << i << " is made at step " << made[i] << ", outside its lifetime";
    int prev = made[i];
    for (int r : reads[i]) {
      R1_CHECK(r > prev && r <= b.last_step, InputError)
          << "plan_spills: buffer " << i << " lives in [" << b.first_step << ", " << b.last_step
          << "] but its reads are not ascending steps after the one that makes it (read at " << r << ")";
      prev = r;
    }
    // Memory shared in place is never cut: the sharer would overwrite bytes still being written out.
    if (b.inplace_parent >= 0) {
      cuttable[i] = 0;
      if (b.inplace_parent < n) cuttable[b.inplace_parent] = 0;
    }
    if (b.size_bytes < kMinSpillBytes) cuttable[i] = 0;
  }
  SpillPlan best = greedy(buffers, reads, made, cuttable, arena_limit, 1);
  // A read started a step ahead (and a write given a step to finish) holds the slot one step longer each side:
  // where that cannot fit, copy synchronously.
  if (!best.fits) {
    SpillPlan sync = greedy(buffers, reads, made, cuttable, arena_limit, 0);
    if (sync.fits || sync.memory.arena_bytes < best.memory.arena_bytes) best = std::move(sync);
  }
  return best;
}

}  // namespace r1
