#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "numpy_bridge.h"
#include "r1/backend/registry.h"
#include "r1/runtime/executor.h"

namespace r1::bindings {
void bind_executor(py::module_& m) {
  py::class_<Executor>(m, "Executor")
      .def(py::init([](std::shared_ptr<Graph> g, const std::string& device, int threads) {
             return std::make_unique<Executor>(g, BackendRegistry::instance().device(device), threads);
           }),
           py::arg("graph"), py::arg("device") = "cpu", py::arg("num_threads") = 0)
      .def_property_readonly("num_threads", &Executor::num_threads)
      .def_property("memory_planning", &Executor::memory_planning, &Executor::set_memory_planning)
      .def_property("inter_op", &Executor::inter_op, &Executor::set_inter_op)
      .def_property_readonly("parallel_groups", &Executor::parallel_groups)
      .def_property_readonly("num_steps", &Executor::num_steps)
      .def_property_readonly("device_steps", &Executor::device_steps)
      .def_property_readonly("device_constant_bytes", &Executor::device_constant_bytes)
      .def_property("graph_capture", &Executor::graph_capture, &Executor::set_graph_capture)
      .def("capturable",
           [](const Executor& ex) {
             std::string why;
             bool ok = ex.capturable(&why);
             return py::make_tuple(ok, why);
           })
      .def_property_readonly("captured_graphs", &Executor::captured_graphs)
      .def_property_readonly("graph_replays", &Executor::graph_replays)
      .def("step_devices",
           [](const Executor& ex) {
             // (node name, op type, domain, on the executor's device) per step, in execution order.
             py::list out;
             for (const auto& [n, dev] : ex.step_devices())
               out.append(py::make_tuple(n->name, n->op_type, n->domain, dev));
             return out;
           })
      .def_property("profiling", &Executor::profiling, &Executor::set_profiling)
      .def("reset_profile", &Executor::reset_profile)
      .def("step_profile",
           [](const Executor& ex) {
             // (node name, op type, domain, total ns, calls) per step, in execution order.
             py::list out;
             for (const auto& p : ex.step_profile())
               out.append(py::make_tuple(p.node->name, p.node->op_type, p.node->domain, p.ns, p.calls));
             return out;
           })
      .def("memory_report",
           [](const Executor& ex) {
             PlanCache::Stats s = ex.memory_stats();
             py::dict d;
             d["arena_bytes"] = s.arena_bytes;
             d["sum_intermediate_bytes"] = s.sum_intermediate_bytes;
             d["plans_cached"] = s.plans_cached;
             d["keys_cached"] = s.keys_cached;
             d["plan_hits"] = s.plan_hits;
             d["plan_misses"] = s.plan_misses;
             d["bucket_reuses"] = s.bucket_reuses;
             d["replans"] = s.replans;
             d["arenas"] = s.arenas;
             d["total_arena_bytes"] = s.total_arena_bytes;
             d["steps"] = s.steps;
             d["inplace_steps"] = s.inplace_steps;
             d["inferred_steps"] = s.inferred_steps;
             d["planned_allocations"] = s.planned_allocations;
             return d;
           })
      .def("run", [](Executor& ex, const std::vector<py::array>& arrays) {
        std::vector<Tensor> ins;
        for (auto& a : arrays) ins.push_back(py_bridge::tensor_from_array(a));
        // The whole graph runs without the GIL.
        std::vector<Tensor> outs = without_gil([&] { return ex.run(ins); });
        py::list res;
        for (auto& t : outs) res.append(py_bridge::array_from_tensor(t));
        return res;
      });
}
}  // namespace r1::bindings
