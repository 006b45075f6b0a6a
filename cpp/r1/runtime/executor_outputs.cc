// Where a planned run's outputs go in the arena, and what happens when a kernel does not do what the plan said.
#include "r1/runtime/executor_state.h"

namespace r1 {

void Executor::widen_to_groups(Structure& st) const {
  // A storage written by one step of a group may not reuse memory a sibling still reads, nor be
  // reused before every sibling is done: its lifetime starts at its group's first step and ends
  // at its last reader's group's last step. (An in-place pair within a group of several steps
  // then no longer lines up, so the planner keeps them apart; single steps are unchanged.)
  for (int& f : st.first) f = group_lo_[f];
  for (int& l : st.last) l = group_hi_[l];
}

void Executor::place_outputs(size_t s, Lane& sc, const RunCtx& rc, const std::vector<DType>& dtypes,
                             const std::vector<Shape>& shapes, const std::vector<bool>& known) const {
  const Plan& p = *rc.plan;
  const Structure& st = p.structure();
  const size_t nout = steps_[s].node->outputs.size();
  sc.placements.assign(nout, OutputPlacement{});
  for (size_t i = 0; i < nout; ++i) {
    const int idx = out_base_[s] + static_cast<int>(i);
    const int storage = st.out_storage[idx];
    if (storage >= 0 && st.out_fresh[idx]) sc.placements[i] = {rc.arena, p.offset(storage), p.capacity(storage)};
  }
  if (!p.inplace_step(s) || nout == 0 || !sc.placements[0].arena) return;
  // Output 0 shares an input's slot. That is only safe while every input overlapping the slot is
  // read at the index being written: it starts the slot with the output's exact shape and dtype
  // (another key of the bucket may broadcast where the recorded one did not).
  bool ok = known[0];
  const size_t lo = sc.placements[0].offset, hi = lo + sc.placements[0].capacity;
  for (const Tensor* t : sc.ins) {
    if (!ok) break;
    if (!t || t->buffer() != *rc.arena || t->nbytes() == 0) continue;
    const size_t a = t->byte_offset(), b = a + t->nbytes();
    if (b <= lo || a >= hi) continue;
    ok = a == lo && t->dtype() == dtypes[0] && t->shape() == shapes[0];
  }
  if (!ok) sc.placements[0] = OutputPlacement{};
}

void Executor::check_outputs(size_t s, Lane& sc, RunCtx& rc, bool planned_shapes, uint64_t allocated,
                             const std::vector<DType>& dtypes, const std::vector<Shape>& shapes) {
  const Node& n = *steps_[s].node;
  const Plan& p = *rc.plan;
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    Tensor& t = sc.outs[i];
    if (!n.outputs[i] || !t.defined()) continue;
    if (planned_shapes && (t.shape() != shapes[i] || t.dtype() != dtypes[i])) {
      // The kernel contradicted the plan: infer the rest of this run, and replan next time.
      rc.diverged = true;
      cache_.mark_stale(*rc.plan);
    }
    const int storage = p.structure().out_storage[out_base_[s] + i];
    if (t.buffer() != *rc.arena || t.nbytes() == 0) {
      // Memory the plan meant to come from the arena (graph outputs and what they view never do).
      if (rc.shapes && storage >= 0 && i < 64 && ((allocated >> i) & 1)) ++planned_allocations_;
      continue;
    }
    // A view the plan did not predict (of an input whose slot may be reused while the view is
    // alive) moves out of the arena.
    const bool inside = storage >= 0 && p.holds(storage, t.byte_offset(), t.byte_offset() + t.nbytes());
    if (!inside) {
      // (While recording a graph a copy would run now, not on replay: give the capture up.)
      R1_CHECK(!rc.capturing, DeviceError) << "node " << n.label() << " made a view the plan did not foresee";
      t = copy_out(t);
      if (rc.shapes) cache_.mark_stale(*rc.plan);
    }
  }
}

}  // namespace r1
