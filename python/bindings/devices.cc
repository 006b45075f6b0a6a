// Devices seen from Python: the registry's list, the backend hook GPU modules register through,
// and run_kernel (one op on one device, for kernel tests).
#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "numpy_bridge.h"
#include "r1/backend/plugin.h"
#include "r1/backend/registry.h"
#include "r1/backend/run_kernel.h"
#include "r1/cpu/sim_device.h"

namespace r1::bindings {
void bind_devices(py::module_& m) {
  m.def(
      "devices", [] { return BackendRegistry::instance().available(); },
      "Devices present: 'cpu', then e.g. 'cuda:0' for each GPU of an imported GPU module.");
  m.def(
      "open_device", [](const std::string& spec) { return BackendRegistry::instance().device(spec).name(); },
      py::arg("device"), "Opens a device (e.g. 'cuda:0') and returns its canonical name; DeviceError when absent.");
  m.def("_register_sim_device", &register_sim_device,
        "Tests only: registers 'sim:0', host memory posing as a GPU's (see r1/cpu/sim_device.h).");
  m.def("_sim_inject_faults", &sim_inject_faults, py::arg("kind"), py::arg("count"),
        "Tests only: the next `count` sim:0 allocations ('alloc') or copies ('lost') fail with DeviceError.");
  // The capsule _cuda / _hip open at import (see r1/backend/plugin.h). const_cast: the capsule
  // API takes void*; the hook is never written through it.
  m.attr("_registry_capsule") = py::capsule(const_cast<r1_backend_hook*>(core_backend_hook()), R1_BACKEND_HOOK_CAPSULE);
  m.def(
      "run_kernel",
      [](const std::string& device, const std::string& op_type, const std::vector<py::object>& arrays,
         const py::dict& attrs, int opset, size_t num_outputs, const std::string& domain) {
        std::vector<Tensor> ins;
        for (auto& a : arrays)
          ins.push_back(a.is_none() ? Tensor()
                                    : py_bridge::tensor_from_array(py::array::ensure(a, py::array::c_style)));
        AttributeMap am;
        for (auto kv : attrs) {
          std::string k = kv.first.cast<std::string>();
          am.set(k, to_attribute(k, kv.second.cast<py::tuple>()));
        }
        Device& dev = BackendRegistry::instance().device(device);
        std::vector<Tensor> outs =
            without_gil([&] { return run_kernel(dev, op_type, domain, ins, am, opset, num_outputs); });
        py::list res;
        for (auto& t : outs)
          res.append(t.defined() ? py::object(py_bridge::array_from_tensor(t)) : py::object(py::none()));
        return res;
      },
      py::arg("device"), py::arg("op_type"), py::arg("inputs"), py::arg("attrs") = py::dict(), py::arg("opset") = 17,
      py::arg("num_outputs") = 1, py::arg("domain") = "",
      "Runs one op's kernel on a device: numpy arrays in (None = omitted optional), numpy arrays out. "
      "attrs maps names to (kind, value) pairs, e.g. {'axis': ('int', -1)}.");
}
}  // namespace r1::bindings
