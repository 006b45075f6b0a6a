#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "numpy_bridge.h"
#include "r1/backend/registry.h"
#include "r1/runtime/executor.h"

namespace r1::bindings {
void bind_executor(py::module_& m) {
  py::class_<Executor>(m, "Executor")
      .def(py::init([](std::shared_ptr<Graph> g, const std::string& device, int threads,
                       std::shared_ptr<MemoryPool> pool, std::shared_ptr<MemoryPool> host_pool, int prefetch,
                       int queue_depth, size_t request_bytes, size_t min_stream_bytes, const std::string& offload_dir) {
             Device& dev = BackendRegistry::instance().device(device);
             if (!pool) return std::make_unique<Executor>(g, dev, threads);
             Executor::Tiering t{std::move(pool), std::move(host_pool), {}};
             t.options.prefetch = prefetch;
             t.options.read.queue_depth = queue_depth;
             t.options.read.request_bytes = request_bytes;
             t.options.min_stream_bytes = min_stream_bytes;
             t.options.offload_dir = offload_dir;
             return std::make_unique<Executor>(g, dev, threads, &t);
           }),
           py::arg("graph"), py::arg("device") = "cpu", py::arg("num_threads") = 0, py::arg("memory_pool") = nullptr,
           py::arg("host_pool") = nullptr, py::arg("prefetch") = -1, py::arg("queue_depth") = 8,
           py::arg("request_bytes") = size_t{1} << 20, py::arg("min_stream_bytes") = size_t{64} << 10,
           py::arg("offload_dir") = "/tmp")
      .def_property_readonly("tiered", [](const Executor& ex) { return ex.streamer() != nullptr; })
      .def_property(
          "tracing", [](Executor& ex) { return ex.trace().enabled(); },
          [](Executor& ex, bool on) { ex.trace().enable(on); })
      .def("take_trace",
           [](Executor& ex) {
             // [(lane 0 compute | 1 read | 2 stall, name, start ns, end ns)], steady clock; clears them.
             py::list out;
             for (const auto& e : ex.trace().take()) out.append(py::make_tuple(e.lane, e.name, e.start_ns, e.end_ns));
             return out;
           })
      .def("tiering_stats",
           [](const Executor& ex) {
             py::dict d;
             const WeightStreamer* ws = ex.streamer();
             if (!ws) return d;
             const TieringStats s = ws->stats();
             d["weights"] = s.weights;
             d["weight_bytes"] = s.weight_bytes;
             d["resident"] = s.resident;
             d["resident_bytes"] = s.resident_bytes;
             d["loaded_bytes"] = s.loaded_bytes;
             d["fixed_bytes"] = s.fixed_bytes;
             d["min_budget"] = s.min_budget;
             d["activation_bytes"] = s.activation_bytes;
             d["runs"] = s.runs;
             d["last_bytes_read"] = s.last_bytes_read;
             d["bytes_read"] = s.bytes_read;
             d["last_read_s"] = s.last_read_s;
             d["read_s"] = s.read_s;
             d["last_stall_s"] = s.last_stall_s;
             d["stall_s"] = s.stall_s;
             d["last_run_s"] = s.last_run_s;
             d["run_s"] = s.run_s;
             d["loads"] = s.loads;
             d["reused_buffers"] = s.reused_buffers;
             d["weight_steps"] = s.weight_steps;
             d["last_loads"] = s.last_loads;
             d["num_steps"] = ex.num_steps();
             d["pool_used"] = ws->pool().used();
             d["pool_peak"] = ws->pool().peak();
             d["pool_capacity"] = ws->pool().capacity();
             const SpillStats sp = ex.spiller() ? ex.spiller()->stats() : SpillStats{};
             d["spills"] = sp.spills;
             d["spill_runs"] = sp.runs;
             d["last_spill_bytes"] = sp.last_bytes;
             d["spill_bytes"] = sp.bytes;
             d["last_spill_wait_s"] = sp.last_wait_s;
             d["spill_wait_s"] = sp.wait_s;
             return d;
           })
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
      .def("run", [](Executor& ex, const std::vector<py::object>& values) {
        std::vector<Tensor> ins;
        for (auto& v : values) ins.push_back(py_bridge::value_from_python(v));
        // The whole graph runs without the GIL.
        std::vector<Tensor> outs = without_gil([&] { return ex.run(ins); });
        py::list res;
        for (auto& t : outs) res.append(py_bridge::value_to_python(t));
        return res;
      });
}
}  // namespace r1::bindings
