// The O_DIRECT reader (r1/io/direct_reader.h), for tests and bench/disk_read.py.
#include <pybind11/numpy.h>

#include "bind.h"
#include "gil.h"
#include "r1/core/error.h"
#include "r1/io/direct_reader.h"

namespace r1::bindings {

void bind_io(py::module_& m) {
  m.attr("IO_URING_BUILT") = io_uring_built();
  py::class_<DirectReader>(m, "DirectReader")
      .def(py::init([](const std::string& path, int queue_depth, size_t request_bytes, bool direct, bool io_uring) {
             return DirectReader::open(path, {queue_depth, request_bytes, direct, io_uring});
           }),
           py::arg("path"), py::arg("queue_depth") = 8, py::arg("request_bytes") = size_t{1} << 20,
           py::arg("direct") = true, py::arg("io_uring") = true)
      .def_property_readonly("uses_io_uring", &DirectReader::uses_io_uring)
      .def(
          "read_into",
          [](DirectReader& r, uint64_t offset, const py::buffer& out) {
            py::buffer_info info = out.request(/*writable=*/true);
            const size_t bytes = static_cast<size_t>(info.size * info.itemsize);
            R1_CHECK(info.ndim <= 1 || info.strides.back() == info.itemsize, InputError)
                << "read_into needs a contiguous buffer";
            without_gil([&] { r.read(offset, bytes, info.ptr); });
          },
          py::arg("offset"), py::arg("out"), "Fills `out` (a writable contiguous buffer) from the file at `offset`.")
      .def_property_readonly("direct", &DirectReader::direct)
      .def_property_readonly("file_size", &DirectReader::file_size);
}

}  // namespace r1::bindings
