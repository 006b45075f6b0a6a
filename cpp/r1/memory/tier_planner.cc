#include "r1/memory/tier_planner.h"

#include <algorithm>
#include <map>
#include <cstdio>
#include <cstdlib>

#include "r1/core/error.h"

namespace r1 {
namespace {

using Drop = std::vector<uint8_t>;

// The steps item `it` holds, as a mask, under (resident, drop): the union of its segments (a reload that
// starts before the previous use ends overlaps it, and holds nothing twice).
std::vector<uint8_t> held_mask(const TierItem& it, int steps, int lead, bool resident, const Drop& drop) {
  std::vector<uint8_t> m(static_cast<size_t>(steps), 0);
  if (it.kind == TierItem::Weight && resident) {
    std::fill(m.begin(), m.end(), 1);
    return m;
  }
  const auto& u = it.uses;
  size_t seg = 0;  // first use of the current segment
  for (size_t i = 0; i < u.size(); ++i) {
    const bool ends = i + 1 == u.size() || drop[i];
    if (!ends) continue;
    // An activation is made at its first use, not loaded; a reload starts `lead` steps early, but not before
    // the step after the use the item was dropped after.
    int from = u[seg];
    if (!(it.kind == TierItem::Activation && seg == 0)) from = std::max(seg == 0 ? 0 : u[seg - 1] + 1, u[seg] - lead);
    for (int t = from; t <= u[i]; ++t) m[static_cast<size_t>(t)] = 1;
    seg = i + 1;
  }
  return m;
}

uint64_t moved(const TierItem& it, bool resident, const Drop& drop) {
  const uint64_t dropped = static_cast<uint64_t>(std::count(drop.begin(), drop.end(), uint8_t{1}));
  if (it.kind == TierItem::Weight) return resident ? 0 : it.bytes * (1 + dropped);
  return dropped ? it.bytes * (1 + dropped) : 0;  // written out once, read back after each dropped gap
}

void check_items(const std::vector<TierItem>& items, int steps, int lead) {
  R1_CHECK(steps >= 0 && lead >= 0, InputError) << "num_steps and lead must be >= 0";
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& u = items[i].uses;
    R1_CHECK(!u.empty(), InputError) << "tier item " << i << " has no uses";
    for (size_t k = 0; k < u.size(); ++k) {
      R1_CHECK(u[k] >= 0 && u[k] < steps, InputError)
          << "tier item " << i << ": use at step " << u[k] << " is outside [0, " << steps << ")";
      R1_CHECK(k == 0 || u[k] > u[k - 1], InputError) << "tier item " << i << ": uses must be strictly ascending";
    }
  }
}

class Planner {
 public:
  // Starts from the decisions (resident, drop); only weights can be resident.
  Planner(const std::vector<TierItem>& items, int steps, const TierPlanOptions& o, const std::vector<uint8_t>& resident,
          const std::vector<Drop>& drop)
      : items_(items), steps_(steps), lead_(o.lead), budget_(o.budget), drop_(drop) {
    for (size_t i = 0; i < items.size(); ++i) resident_.push_back(resident[i] && items[i].kind == TierItem::Weight);
    held_ = tier_occupancy(items, steps, lead_, resident_, drop_, nullptr);
  }

  bool over() const {
    return std::any_of(held_.begin(), held_.end(), [&](size_t h) { return h > budget_; });
  }

  // One move: the one that relieves the most overflow per byte it adds to each run. False: none helps.
  bool relieve() {
    int worst = -1;
    for (int t = 0; t < steps_; ++t)
      if (held_[t] > budget_ && (worst < 0 || held_[t] > held_[worst])) worst = t;
    if (worst < 0) return false;
    double best_score = 0;
    Move best{};
    for (size_t i = 0; i < items_.size(); ++i) {
      for (const Move& m : moves_at(i, worst)) {
        const double score = static_cast<double>(relief(i, m)) / static_cast<double>(m.cost);
        if (score > best_score) best_score = score, best = m;
      }
    }
    if (best_score <= 0) return false;
    applied_.push_back(best);
    apply(best.item, best.resident, best.drop);
    return true;
  }

  // Undo each move whose undoing still fits, costliest first: greedy choices a later one made unnecessary.
  void prune() {
    std::vector<size_t> order(applied_.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return applied_[a].cost > applied_[b].cost; });
    for (size_t k : order) {
      const Move& m = applied_[k];
      // Back to the state before the move, for the part the move changed; what later moves did stays.
      bool resident = m.undo_resident ? true : resident_[m.item];
      Drop drop = drop_[m.item];
      if (m.gap >= 0) drop[static_cast<size_t>(m.gap)] = 0;
      if (resident) std::fill(drop.begin(), drop.end(), uint8_t{0});
      if (fits(m.item, resident, drop)) apply(m.item, resident, drop);
    }
  }

  TierPlan result(bool feasible) const {
    TierPlan p;
    p.feasible = feasible;
    p.held = held_;
    p.drop = drop_;
    for (size_t i = 0; i < items_.size(); ++i) {
      p.resident.push_back(resident_[i]);
      p.bytes_moved += moved(items_[i], resident_[i], drop_[i]);
    }
    return p;
  }

 private:
  struct Move {
    size_t item = 0;
    bool resident = false;
    Drop drop;
    int gap = -1;                // the gap this move dropped, or -1
    bool undo_resident = false;  // the move made a resident weight stream
    uint64_t cost = 0;           // bytes it adds to each run
  };

  // The moves that free step t of item i.
  std::vector<Move> moves_at(size_t i, int t) const {
    std::vector<Move> out;
    const TierItem& it = items_[i];
    const auto& u = it.uses;
    const uint64_t now = moved(it, resident_[i], drop_[i]);
    auto add = [&](bool resident, int gap) {
      Move m{i, resident, drop_[i], gap, resident_[i] && !resident, 0};
      if (gap >= 0) m.drop[static_cast<size_t>(gap)] = 1;
      m.cost = moved(it, resident, m.drop) - now;
      if (m.cost > 0) out.push_back(std::move(m));
    };
    // The gap around t, if dropping it frees t: held through (u[g], u[g + 1]) when kept, only from the reload on
    // (u[g + 1] - lead) when dropped.
    const auto next = std::upper_bound(u.begin(), u.end(), t);
    int gap = -1;
    if (next != u.begin() && next != u.end() && t < *next - lead_) {
      const int g = static_cast<int>(next - u.begin()) - 1;
      if (!drop_[i][static_cast<size_t>(g)]) gap = g;
    }
    if (it.kind == TierItem::Weight && resident_[i]) {
      if (t < u.front() - lead_ || t > u.back()) add(false, -1);  // streaming alone frees t
      if (gap >= 0) add(false, gap);
    } else if (gap >= 0) {
      add(resident_[i], gap);
    }
    return out;
  }

  // Overflow bytes the move takes away, summed over the steps it frees.
  uint64_t relief(size_t i, const Move& m) const {
    const auto before = held_mask(items_[i], steps_, lead_, resident_[i], drop_[i]);
    const auto after = held_mask(items_[i], steps_, lead_, m.resident, m.drop);
    uint64_t r = 0;
    for (int t = 0; t < steps_; ++t)
      if (before[t] && !after[t] && held_[t] > budget_) r += std::min<uint64_t>(items_[i].bytes, held_[t] - budget_);
    return r;
  }

  bool fits(size_t i, bool resident, const Drop& drop) const {
    const auto before = held_mask(items_[i], steps_, lead_, resident_[i], drop_[i]);
    const auto after = held_mask(items_[i], steps_, lead_, resident, drop);
    for (int t = 0; t < steps_; ++t)
      if (after[t] && !before[t] && held_[t] + items_[i].bytes > budget_) return false;
    return true;
  }

  void apply(size_t i, bool resident, const Drop& drop) {
    const auto before = held_mask(items_[i], steps_, lead_, resident_[i], drop_[i]);
    const auto after = held_mask(items_[i], steps_, lead_, resident, drop);
    for (int t = 0; t < steps_; ++t) {
      if (after[t] && !before[t]) held_[t] += items_[i].bytes;
      if (before[t] && !after[t]) held_[t] -= items_[i].bytes;
    }
    resident_[i] = resident;
    drop_[i] = drop;
  }

  const std::vector<TierItem>& items_;
  int steps_, lead_;
  size_t budget_;
  std::vector<size_t> held_;
  std::vector<uint8_t> resident_;
  std::vector<Drop> drop_;
  std::vector<Move> applied_;
};

}  // namespace

std::vector<size_t> tier_occupancy(const std::vector<TierItem>& items, int num_steps, int lead,
                                   const std::vector<uint8_t>& resident, const std::vector<Drop>& drop,
                                   uint64_t* bytes_moved) {
  check_items(items, num_steps, lead);
  R1_CHECK(resident.size() == items.size() && drop.size() == items.size(), InputError)
      << "one resident flag and one drop list per item";
  std::vector<size_t> held(static_cast<size_t>(num_steps), 0);
  uint64_t total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    R1_CHECK(drop[i].size() + 1 == items[i].uses.size(), InputError)
        << "tier item " << i << ": one drop flag per gap between uses";
    const bool res = resident[i] && items[i].kind == TierItem::Weight;
    const auto m = held_mask(items[i], num_steps, lead, res, drop[i]);
    for (int t = 0; t < num_steps; ++t)
      if (m[t]) held[t] += items[i].bytes;
    total += moved(items[i], res, drop[i]);
  }
  if (bytes_moved) *bytes_moved = total;
  return held;
}

namespace {

// The planner's moves from the decisions (resident, drop) until every step fits (items already checked).
TierPlan plan_from(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& o,
                   const std::vector<uint8_t>& resident, const std::vector<Drop>& drop) {
  // The least any plan can hold: every weight streamed, every gap dropped.
  std::vector<uint8_t> none(items.size(), 0);
  std::vector<Drop> all;
  for (const auto& it : items) all.emplace_back(it.uses.size() - 1, 1);
  uint64_t all_moved = 0;
  const auto least = tier_occupancy(items, num_steps, o.lead, none, all, &all_moved);
  const size_t min_budget = least.empty() ? 0 : *std::max_element(least.begin(), least.end());
  if (min_budget > o.budget) {
    TierPlan p;
    p.min_budget = min_budget;
    p.resident = none;
    p.drop = all;
    p.bytes_moved = all_moved;
    p.held = least;
    return p;
  }
  Planner planner(items, num_steps, o, resident, drop);
  while (planner.over())
    if (!planner.relieve()) break;
  const bool feasible = !planner.over();
  if (feasible) planner.prune();
  TierPlan p = planner.result(feasible);
  p.min_budget = min_budget;
  return p;
}

}  // namespace

TierPlan plan_tiers(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& o) {
  check_items(items, num_steps, o.lead);
  // Start from everything held, then give up the least.
  std::vector<uint8_t> all_held;
  std::vector<Drop> none_dropped;
  for (const auto& it : items) {
    all_held.push_back(it.kind == TierItem::Weight);
    none_dropped.emplace_back(it.uses.size() - 1, 0);
  }
  return plan_from(items, num_steps, o, all_held, none_dropped);
}

TierPlan shrink_plan(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& o,
                     const std::vector<uint8_t>& resident, const std::vector<Drop>& drop) {
  check_items(items, num_steps, o.lead);
  R1_CHECK(resident.size() == items.size() && drop.size() == items.size(), InputError)
      << "one resident flag and one drop list per item";
  for (size_t i = 0; i < items.size(); ++i)
    R1_CHECK(drop[i].size() + 1 == items[i].uses.size(), InputError)
        << "tier item " << i << ": one drop flag per gap between uses";
  return plan_from(items, num_steps, o, resident, drop);
}

TierPlan spread_resident(const std::vector<TierItem>& items, int num_steps, const TierPlanOptions& o,
                         const TierPlan& plan) {
  if (!plan.feasible || plan.resident.size() != items.size()) return plan;
  // Single-use weights by size, in run order: swapping weights of one size moves the same bytes.
  std::map<size_t, std::vector<size_t>> by_size;
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].kind == TierItem::Weight && items[i].uses.size() == 1) by_size[items[i].bytes].push_back(i);
  TierPlan q = plan;
  bool changed = false;
  for (auto& [bytes, group] : by_size) {
    std::stable_sort(group.begin(), group.end(),
                     [&](size_t a, size_t b) { return items[a].uses[0] < items[b].uses[0]; });
    size_t k = 0;
    for (size_t i : group) k += plan.resident[i] ? 1 : 0;
    if (k == 0 || k == group.size()) continue;
    // k of n evenly: the j-th resident one is the middle of the j-th of k equal stretches.
    const size_t n = group.size();
    for (size_t i : group) q.resident[i] = 0;
    for (size_t j = 0; j < k; ++j) q.resident[group[(2 * j + 1) * n / (2 * k)]] = 1;
    changed = true;
  }
  if (!changed) return plan;
  // Where the spread overflows a step (the planner had kept a weight resident right there to fit a tight step),
  // swap a streamed weight in that step's read-ahead window with a resident one of its size elsewhere. A swap of
  // two single-use weights of one size changes the held bytes only on their two windows: each is tried in O(lead).
  auto window = [&](size_t i) { return std::make_pair(std::max(0, items[i].uses[0] - o.lead), items[i].uses[0]); };
  auto excess = [&](size_t h) -> uint64_t { return h > o.budget ? h - o.budget : 0; };
  for (int round = 0; round < num_steps; ++round) {
    const auto held = tier_occupancy(items, num_steps, o.lead, q.resident, q.drop, nullptr);
    const auto it = std::find_if(held.begin(), held.end(), [&](size_t h) { return h > o.budget; });
    if (it == held.end()) break;
    const int t = static_cast<int>(it - held.begin());
    int64_t best_gain = 0;
    size_t best_a = 0, best_b = 0;
    for (const auto& [bytes, group] : by_size)
      for (size_t a : group) {
        const auto wa = window(a);
        if (q.resident[a] || t < wa.first || t > wa.second) continue;  // streamed, and held at step t
        for (size_t b : group) {
          if (!q.resident[b]) continue;
          const auto wb = window(b);
          // a resident (its window's bytes no longer extra), b streamed (its window's bytes become extra).
          int64_t gain = 0;
          for (int s = std::min(wa.first, wb.first); s <= std::max(wa.second, wb.second); ++s) {
            size_t h = held[s];
            if (s >= wa.first && s <= wa.second) h -= bytes;
            if (s >= wb.first && s <= wb.second) h += bytes;
            gain += static_cast<int64_t>(excess(held[s])) - static_cast<int64_t>(excess(h));
          }
          if (gain > best_gain) best_gain = gain, best_a = a, best_b = b;
        }
      }
    if (best_gain <= 0) break;  // no swap helps: keep the planner's choice
    q.resident[best_a] = 1;
    q.resident[best_b] = 0;
  }
  q.held = tier_occupancy(items, num_steps, o.lead, q.resident, q.drop, &q.bytes_moved);
  const bool fits = std::all_of(q.held.begin(), q.held.end(), [&](size_t h) { return h <= o.budget; });
  return fits && q.bytes_moved <= plan.bytes_moved ? q : plan;
}

}  // namespace r1
