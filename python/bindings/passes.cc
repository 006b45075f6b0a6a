#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "r1/ir/printer.h"
#include "r1/passes/pipeline.h"

namespace r1::bindings {
void bind_passes(py::module_& m) {
  m.def("pass_names", &pass_names, py::arg("level") = 3);
  m.def(
      "optimize",
      [](Graph& g, int level, const std::string& precision, const std::set<std::string>& disabled,
         py::object after_pass, const std::string& device) {
        PassOptions opts;
        opts.level = level;
        opts.precision = precision;
        opts.disabled = disabled;
        opts.device = device;
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
          passes.append(py::dict(py::arg("name") = r.name, py::arg("changed") = r.changed,
                                 py::arg("nodes_before") = r.nodes_before, py::arg("nodes_after") = r.nodes_after,
                                 py::arg("ms") = r.ms));
        return py::dict(py::arg("nodes_before") = rep.nodes_before, py::arg("nodes_after") = rep.nodes_after,
                        py::arg("passes") = passes);
      },
      py::arg("graph"), py::arg("level") = 3, py::arg("precision") = "fp32",
      py::arg("disabled") = std::set<std::string>(), py::arg("after_pass") = py::none(), py::arg("device") = "cpu");
}
}  // namespace r1::bindings
