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

void bind_devices(py::module_& m) {
  m.def("devices", [] { return BackendRegistry::instance().available(); });
}
}  // namespace r1::bindings
