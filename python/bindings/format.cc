#include <pybind11/stl.h>

#include <array>
#include <string_view>

#include "bind.h"
#include "gil.h"
#include "r1/format/crc32c.h"
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
      [](const std::string& path, bool verify, bool map) {
        LoadedModel lm = without_gil([&] { return load_r1(path, verify, map); });
        return py::make_tuple(lm.graph, lm.metadata);
      },
      py::arg("path"), py::arg("verify_checksum") = true, py::arg("mmap") = true);
  m.attr("R1_FORMAT_VERSION") = kR1FormatVersion;
  // The checksum's segment hash, hardware or table path: tests hold one to the other.
  m.def(
      "_crc32c_lanes",
      [](py::bytes data, std::array<uint32_t, 4> lanes, bool portable) {
        std::string_view v = data;
        (portable ? format::crc32c_lanes_portable : format::crc32c_lanes)(v.data(), v.size(), lanes.data());
        return lanes;
      },
      py::arg("data"), py::arg("lanes"), py::arg("portable"));
}
}  // namespace r1::bindings
