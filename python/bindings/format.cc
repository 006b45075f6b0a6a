#include <pybind11/stl.h>

#include "bind.h"
#include "gil.h"
#include "r1/format/r1_file.h"

namespace r1::bindings {
void bind_format(py::module_& m) {
  m.def(
      "save_r1",
      [](const std::shared_ptr<Graph>& g, const std::map<std::string, std::string>& meta, const std::string& path) {
        without_gil([&] { save_r1(*g, meta, path); });
      },
      py::arg("graph"), py::arg("metadata"), py::arg("path"));
  m.def(
      "load_r1",
      [](const std::string& path, bool verify) {
        LoadedModel lm = without_gil([&] { return load_r1(path, verify); });
        return py::make_tuple(lm.graph, lm.metadata);
      },
      py::arg("path"), py::arg("verify_checksum") = true);
  m.attr("R1_FORMAT_VERSION") = kR1FormatVersion;
}
}  // namespace r1::bindings
