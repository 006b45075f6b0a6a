#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>

#include "bind.h"
#include "gil.h"
#include "r1/ir/printer.h"
#include "r1/passes/pipeline.h"

namespace r1::bindings {
namespace {
PassStage parse_stage(const std::string& s) {
  R1_CHECK(s == "graph" || s == "device", ModelError) << "stage must be 'graph' or 'device', got '" << s << "'";
  return s == "graph" ? PassStage::Graph : PassStage::Device;
}

}  // namespace

void bind_passes(py::module_& m) {
  m.def(
      "pass_names",
      [](int level, const std::string& stage) {
        if (stage == "all") return pass_names(level);
        return pass_names(level, parse_stage(stage));
      },
      py::arg("level") = 3, py::arg("stage") = "all");
  m.def(
      "optimize",
      [](Graph& g, int level, const std::string& precision, const std::set<std::string>& disabled,
         py::object after_pass, const std::string& device, const std::string& stages,
         const std::optional<std::map<std::string, bool>>& cpu_target,
         const std::vector<std::pair<std::string, std::string>>& precision_overrides) {
        PassOptions opts;
        opts.precision_overrides = precision_overrides;
        opts.level = level;
        opts.precision = precision;
        opts.disabled = disabled;
        opts.device = device;
        opts.graph_passes = stages == "all" || stages == "graph";
        opts.device_passes = stages == "all" || stages == "device";
        R1_CHECK(opts.graph_passes || opts.device_passes, ModelError)
            << "stages must be 'all', 'graph' or 'device', got '" << stages << "'";
        if (cpu_target) opts.cpu_target = CpuFeatures::from_flags(*cpu_target);
        // The callback gets the pass name and the printed IR; it needs the GIL back.
        if (!after_pass.is_none())
          opts.after_pass = [&after_pass](const std::string& name, const Graph& graph) {
            std::string text = print_graph(graph);
            py::gil_scoped_acquire gil;
            after_pass(name, text);
          };
        OptimizeReport rep = without_gil([&] { return optimize(g, opts); });
        py::list passes;
        for (const PassRecord& r : rep.passes)
          passes.append(py::dict(py::arg("name") = r.name,
                                 py::arg("stage") = r.stage == PassStage::Graph ? "graph" : "device",
                                 py::arg("changed") = r.changed, py::arg("nodes_before") = r.nodes_before,
                                 py::arg("nodes_after") = r.nodes_after, py::arg("ms") = r.ms));
        return py::dict(py::arg("nodes_before") = rep.nodes_before, py::arg("nodes_after") = rep.nodes_after,
                        py::arg("passes") = passes);
      },
      py::arg("graph"), py::arg("level") = 3, py::arg("precision") = "fp32",
      py::arg("disabled") = std::set<std::string>(), py::arg("after_pass") = py::none(), py::arg("device") = "cpu",
      py::arg("stages") = "all", py::arg("cpu_target") = py::none(),
      py::arg("precision_overrides") = std::vector<std::pair<std::string, std::string>>());
}
}  // namespace r1::bindings
