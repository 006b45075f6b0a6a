// The tier placement planner: which weights stay in the fast tier, which stream from the slow one ahead of
// use, and which long-lived activations spill between their uses, under a byte budget for the fast tier.
// A pure function over steps and sizes (no graph, no device), tested on its own against an exhaustive search
// (tests/python/runtime/test_tier_planner.py drives it through _core.plan_tiers).
//
//   std::vector<TierItem> items = {{TierItem::Weight, 4 << 20, {0, 7}}, {TierItem::Activation, 1 << 20, {1, 6}}};
//   TierPlan p = plan_tiers(items, /*num_steps=*/8, {/*budget=*/6 << 20, /*lead=*/1});
//   // p.resident[0]: the weight stays loaded across runs (0 bytes moved a run); else it streams, and
//   // p.drop[i][g] says whether item i leaves the fast tier in the gap g between its uses g and g + 1.
//
// The model. Time is the execution order (steps 0 .. num_steps - 1). An item must be in the fast tier at each
// of its uses. A load for a use at step u starts `lead` steps earlier (the prefetch depth), but not before the
// step after the use it was dropped after, and holds its bytes from then on. Per run:
// - a resident weight holds its bytes at every step and moves nothing;
// - a streamed weight is loaded for its first use and after every dropped gap: bytes x loads;
// - an activation is made at its first use; if it is dropped in any gap it is written out once and read back
//   after each dropped gap: bytes x (1 + dropped gaps), else nothing.
// Minimise bytes moved with every step's held bytes <= budget. Exact search is exponential, so: start from
// everything held, then while some step is over budget take the move that relieves the most overflow per
// byte it adds (make a weight stream, drop a gap, or both), then undo every move whose undoing still fits,
// costliest first. On 600 random small cases it finds the optimum on all but one (1.4x there).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace r1 {

struct TierItem {
  enum Kind : uint8_t { Weight, Activation } kind = Weight;
  size_t bytes = 0;
  std::vector<int> uses;  // ascending steps; an activation's first is the step that makes it
};

struct TierPlanOptions {
  size_t budget = 0;  // fast-tier bytes for these items (the caller leaves room for the arena's own peak)
  int lead = 1;       // steps a load starts before its use
};

struct TierPlan {
  bool feasible = false;                   // every step fits the budget
  size_t min_budget = 0;                   // the least budget any plan fits: every item held only where it must be
  std::vector<uint8_t> resident;           // per item (weights; 0 for activations)
  std::vector<std::vector<uint8_t>> drop;  // per item, per gap between consecutive uses
  uint64_t bytes_moved = 0;                // per run
  std::vector<size_t> held;                // per step: bytes in the fast tier
};

// Throws InputError for malformed items (no uses, uses not ascending or outside [0, num_steps)).
// An infeasible budget (< min_budget) returns feasible = false with the all-dropped plan.
TierPlan plan_tiers(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& options);

// plan_tiers from the decisions (resident, drop) instead of from everything held: the same moves until every step
// fits, and the same undoing of those that turn out unnecessary. A move only makes a weight stream or drops a gap,
// so nothing is resident that was not: a plan made again for a smaller budget keeps what is loaded, where a fresh
// one may keep other weights of the same cost (and the caller would read each of those once more).
TierPlan shrink_plan(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& options,
                     const std::vector<uint8_t>& resident, const std::vector<std::vector<uint8_t>>& drop);

// The same bytes resident, spread along the run. plan_tiers minimises bytes moved, and where weights cost the same
// (a transformer's layers) it is free to choose which stay; a pipeline wants them spread out: the compute of a
// resident weight is time the loader reads ahead in, and a block of resident weights at the end of the run is
// compute with nothing left to read behind it (on the bench's Llama at batch 1: 0.32 s of a 2.1 s run). Among the
// weights read by one step, those of each size keep their number resident, evenly spaced in run order; where that
// overflows a step (the planner had kept a weight there to fit a tight spot) a streamed weight in the step's
// read-ahead window swaps with a resident one of its size elsewhere. Weights read by several steps keep their
// decisions. Returns `plan` when it is infeasible or nothing changes, and whenever the spread one does not fit.
TierPlan spread_resident(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& options,
                         const TierPlan& plan);

// The held bytes per step and the bytes moved per run of given decisions (what plan_tiers optimises).
std::vector<size_t> tier_occupancy(const std::vector<TierItem>& items, int num_steps, int lead,
                                   const std::vector<uint8_t>& resident, const std::vector<std::vector<uint8_t>>& drop,
                                   uint64_t* bytes_moved);

}  // namespace r1
