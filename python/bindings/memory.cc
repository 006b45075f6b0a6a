#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "r1/backend/registry.h"
#include "r1/core/error.h"
#include "r1/memory/planner.h"

namespace r1::bindings {
void bind_memory(py::module_& m) {
  // plan_memory([(size_bytes, first_step, last_step[, inplace_parent]), ...]) ->
  //   {"offsets": [...], "inplace": [...], "arena_bytes": n, "sum_bytes": n}
  m.def(
      "plan_memory",
      [](const std::vector<std::vector<int64_t>>& items) {
        std::vector<PlanBuffer> bufs;
        for (const auto& it : items) {
          R1_CHECK(it.size() == 3 || it.size() == 4, InputError)
              << "each buffer is (size_bytes, first_step, last_step[, inplace_parent]), got " << it.size() << " values";
          R1_CHECK(it[0] >= 0, InputError) << "buffer size " << it[0] << " is negative";
          bufs.push_back({static_cast<size_t>(it[0]), static_cast<int>(it[1]), static_cast<int>(it[2]),
                          it.size() == 4 ? static_cast<int>(it[3]) : -1});
        }
        MemoryPlan p = plan_memory(bufs);
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
      "trim_cached_memory",
      [] {
        // The CPU's pool only: asking for a GPU device here would create its context just to trim.
        return without_gil([] { return BackendRegistry::instance().device("cpu").allocator().trim_idle(); });
      },
      "Frees the cached host blocks that no run took since the previous call; returns the bytes freed.");
}
}  // namespace r1::bindings
