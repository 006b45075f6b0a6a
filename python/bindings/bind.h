// One bind_* function per bound class family; module.cc calls them in order.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "r1/ir/attribute.h"

namespace r1::bindings {
namespace py = pybind11;
void bind_errors(py::module_& m);
void bind_tensor(py::module_& m);
void bind_graph(py::module_& m);
void bind_executor(py::module_& m);
void bind_memory(py::module_& m);
void bind_format(py::module_& m);
void bind_devices(py::module_& m);
void bind_hardware(py::module_& m);
void bind_passes(py::module_& m);
void bind_kernels(py::module_& m);
void bind_wire(py::module_& m);
void bind_io(py::module_& m);
void bind_memory_pool(py::module_& m);
// A (kind, value) pair from Python as an r1 Attribute (graph.cc).
Attribute to_attribute(const std::string& name, const py::tuple& kv);
}  // namespace r1::bindings
