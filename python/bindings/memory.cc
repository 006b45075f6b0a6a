#include <pybind11/stl.h>

#include <string>
#include <tuple>

#include "bind.h"
#include "gil.h"
#include "r1/backend/registry.h"
#include "r1/core/error.h"
#include "r1/memory/planner.h"
#include "r1/memory/spill_planner.h"
#include "r1/memory/tier_planner.h"

namespace r1::bindings {
namespace {
// [(size_bytes, first_step, last_step[, inplace_parent]), ...] as the planners take them.
std::vector<PlanBuffer> to_buffers(const std::vector<std::vector<int64_t>>& items) {
  std::vector<PlanBuffer> bufs;
  for (const auto& it : items) {
    R1_CHECK(it.size() == 3 || it.size() == 4, InputError)
        << "each buffer is (size_bytes, first_step, last_step[, inplace_parent]), got " << it.size() << " values";
    R1_CHECK(it[0] >= 0, InputError) << "buffer size " << it[0] << " is negative";
    bufs.push_back({static_cast<size_t>(it[0]), static_cast<int>(it[1]), static_cast<int>(it[2]),
                    it.size() == 4 ? static_cast<int>(it[3]) : -1});
  }
  return bufs;
}
}  // namespace

void bind_memory(py::module_& m) {
  // plan_memory([(size_bytes, first_step, last_step[, inplace_parent]), ...]) ->
  //   {"offsets": [...], "inplace": [...], "arena_bytes": n, "sum_bytes": n}
  m.def(
      "plan_memory",
      [](const std::vector<std::vector<int64_t>>& items) {
        MemoryPlan p = plan_memory(to_buffers(items));
        py::dict d;
        d["offsets"] = p.offsets;
        d["inplace"] = p.inplace;
        d["arena_bytes"] = p.arena_bytes;
        d["sum_bytes"] = p.sum_bytes;
        return d;
      },
      py::arg("buffers"));
  m.attr("PLAN_ALIGNMENT") = kPlanAlignment;
  m.def(
      "plan_spills",
      [](const std::vector<std::vector<int64_t>>& items, const std::vector<std::vector<int>>& reads, size_t arena_limit,
         const std::vector<int>& made) {
        SpillPlan p = plan_spills(to_buffers(items), reads, arena_limit, made);
        py::list spills, buffers;
        for (const SpillChoice& c : p.spills) spills.append(py::make_tuple(c.buffer, c.after, c.use, c.lead));
        for (const PlanBuffer& b : p.buffers) buffers.append(py::make_tuple(b.size_bytes, b.first_step, b.last_step));
        py::dict d;
        d["spills"] = spills;
        d["buffers"] = buffers;
        d["offsets"] = p.memory.offsets;
        d["arena_bytes"] = p.memory.arena_bytes;
        d["fits"] = p.fits;
        d["bytes_moved"] = p.bytes_moved;
        return d;
      },
      py::arg("buffers"), py::arg("reads"), py::arg("arena_limit"), py::arg("made") = std::vector<int>{},
      "Activation spills (r1/memory/spill_planner.h): which buffers leave the arena between two reads.");
  m.attr("MIN_SPILL_BYTES") = kMinSpillBytes;
  // items: [(kind "weight" | "activation", bytes, [use steps...]), ...]
  auto to_items = [](const std::vector<std::tuple<std::string, size_t, std::vector<int>>>& in) {
    std::vector<TierItem> items;
    for (const auto& [kind, bytes, uses] : in) {
      R1_CHECK(kind == "weight" || kind == "activation", InputError)
          << "tier item kind must be 'weight' or 'activation', got '" << kind << "'";
      items.push_back({kind == "weight" ? TierItem::Weight : TierItem::Activation, bytes, uses});
    }
    return items;
  };
  m.def(
      "plan_tiers",
      [to_items](const std::vector<std::tuple<std::string, size_t, std::vector<int>>>& in, int num_steps, size_t budget,
                 int lead, bool spread) {
        const auto items = to_items(in);
        TierPlan p = plan_tiers(items, num_steps, {budget, lead});
        if (spread) p = spread_resident(items, num_steps, {budget, lead}, p);
        py::dict d;
        d["feasible"] = p.feasible;
        d["min_budget"] = p.min_budget;
        d["resident"] = std::vector<bool>(p.resident.begin(), p.resident.end());
        std::vector<std::vector<bool>> drop;
        for (const auto& g : p.drop) drop.emplace_back(g.begin(), g.end());
        d["drop"] = drop;
        d["bytes_moved"] = p.bytes_moved;
        d["held"] = p.held;
        return d;
      },
      py::arg("items"), py::arg("num_steps"), py::arg("budget"), py::arg("lead") = 1, py::arg("spread") = false,
      "Tier placement (r1/memory/tier_planner.h): which weights stay resident, which gaps are dropped.");
  m.def(
      "tier_occupancy",
      [to_items](const std::vector<std::tuple<std::string, size_t, std::vector<int>>>& in, int num_steps, int lead,
                 const std::vector<bool>& resident, const std::vector<std::vector<bool>>& drop) {
        std::vector<uint8_t> r(resident.begin(), resident.end());
        std::vector<std::vector<uint8_t>> d;
        for (const auto& g : drop) d.emplace_back(g.begin(), g.end());
        uint64_t moved = 0;
        auto held = tier_occupancy(to_items(in), num_steps, lead, r, d, &moved);
        return py::make_tuple(held, moved);
      },
      py::arg("items"), py::arg("num_steps"), py::arg("lead"), py::arg("resident"), py::arg("drop"),
      "(bytes held per step, bytes moved per run) of given tier decisions.");
  m.def(
      "trim_cached_memory",
      [] {
        // The CPU's pool only: asking for a GPU device here would create its context just to trim.
        return without_gil([] { return BackendRegistry::instance().device("cpu").allocator().trim_idle(); });
      },
      "Frees the cached host blocks that no run took since the previous call; returns the bytes freed.");
}
}  // namespace r1::bindings
