// Memory budgets (r1/runtime/memory_pool.h): one MemoryPool per tier, private to an engine or shared; and what
// the engine asks before it streams weights (r1/runtime/weight_streamer.h).
#include "bind.h"
#include "r1/runtime/memory_pool.h"
#include "r1/runtime/weight_streamer.h"

namespace r1::bindings {

void bind_memory_pool(py::module_& m) {
  py::class_<MemoryPool, std::shared_ptr<MemoryPool>>(m, "MemoryPool")
      .def(py::init<std::string, size_t>(), py::arg("tier"), py::arg("capacity"))
      .def_static("shared", &MemoryPool::shared, py::arg("tier"), py::arg("capacity"),
                  "The process's one pool for `tier` (made now, or resized to `capacity`).")
      .def_property_readonly("tier", &MemoryPool::tier)
      .def_property("capacity", &MemoryPool::capacity, &MemoryPool::set_capacity)
      .def_property_readonly("used", &MemoryPool::used)
      .def_property_readonly("peak", &MemoryPool::peak);
  m.def("unhomed_weight_bytes", &unhomed_weight_bytes, py::arg("graph"), py::arg("min_bytes") = size_t{64} << 10,
        "Bytes of constants >= min_bytes with no home on disk (they must be written out before they can stream).");
}

}  // namespace r1::bindings
