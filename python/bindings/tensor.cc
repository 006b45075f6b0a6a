#include "bind.h"
#include "numpy_bridge.h"

namespace r1::bindings {
void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor")
      .def(py::init([](py::array a) { return py_bridge::tensor_from_array(a); }), py::arg("array"))
      .def_property_readonly("dtype", [](const Tensor& t) { return dtype_name(t.dtype()); })
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def("numpy", [](const Tensor& t) { return py_bridge::array_from_tensor(t); })
      .def("__repr__", [](const Tensor& t) { return "Tensor(" + t.describe() + ")"; });
  m.def("dtype_size", [](const std::string& name) { return dtype_size(dtype_from_name(name)); });
}
}  // namespace r1::bindings
