// Kernel-level helpers: the GEMM weight packer (what the weight_prepack pass runs at load) and the
// GEMM ISA cap that lets tests reach the fallback paths on a machine that has every ISA.
#include <string>

#include <pybind11/stl.h>

#include "bind.h"
#include "numpy_bridge.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/pack.h"
#include "r1/cpu/gemm/sparse_choice.h"

namespace r1::bindings {
void bind_kernels(py::module_& m) {
  m.def(
      "pack_weights",
      [](py::array b, bool trans_b, const std::string& precision) {
        Tensor t = py_bridge::tensor_from_array(py::array::ensure(b, py::array::c_style));
        return py_bridge::array_from_tensor(cpu::gemm::pack_weights(t, trans_b, precision));
      },
      py::arg("array"), py::arg("trans_b") = false, py::arg("precision") = "fp32",
      "Packs a 2-D float weight into the r1::FusedMatMul blob (uint8) for packed_b=1, k, n, precision.");
  m.def("set_gemm_isa_limit", &cpu::gemm::set_gemm_isa_limit, py::arg("isa"),
        "Caps the ISA of the CPU GEMM: \"auto\", \"avx512\" (no AVX512-BF16) or \"baseline\" (tests).");
  m.def(
      "gemm_path",
      [](const std::string& precision) {
        const cpu::gemm::PackedLayout l = cpu::gemm::layout_for_precision(precision);
        return l == cpu::gemm::PackedLayout::S8 ? cpu::gemm::gemm_s8_path() : cpu::gemm::gemm_path(l);
      },
      py::arg("precision") = "fp32",
      "The CPU GEMM path for a precision: avx512-bf16, avx512-fp32 or baseline; for int8 avx512-vnni or portable.");
  m.def(
      "packed_layout",
      [](py::array blob) {
        Tensor t = py_bridge::tensor_from_array(py::array::ensure(blob, py::array::c_style));
        const cpu::gemm::PackedLayout l = cpu::gemm::packed_layout(t);
        return l == cpu::gemm::PackedLayout::S4      ? "int4"
               : l == cpu::gemm::PackedLayout::S8S24 ? "int8-2:4"
               : l == cpu::gemm::PackedLayout::S8    ? "int8"
               : l == cpu::gemm::PackedLayout::BF16  ? "bf16"
                                                     : "fp32";
      },
      py::arg("blob"),
      "The layout of a packed weight blob: fp32, bf16, int8, int8-2:4 (compressed 2:4 sparse) or int4.");
  m.def(
      "set_sparse_path",
      [](const std::string& path) {
        R1_CHECK(path == "auto" || path == "sparse" || path == "dense", InputError)
            << "set_sparse_path: expected \"auto\", \"sparse\" or \"dense\", got \"" << path << "\"";
        cpu::gemm::set_sparse_path(path == "sparse"  ? cpu::gemm::SparsePath::Sparse
                                   : path == "dense" ? cpu::gemm::SparsePath::Dense
                                                     : cpu::gemm::SparsePath::Auto);
      },
      py::arg("path"),
      "Which kernel reads 2:4 sparse int8 weights: \"auto\" (measured per shape, the default), \"sparse\" or "
      "\"dense\" (tests, benchmarks). \"sparse\" needs AVX512-VBMI and VNNI.");
  m.def("clear_sparse_choices", &cpu::gemm::clear_sparse_choices,
        "Forgets the 2:4 kernel choices measured so far: the next product of each shape measures again.");
  m.def("sparse_choices", &cpu::gemm::sparse_choices, "The 2:4 kernel choices measured so far, one line each.");
  m.def(
      "sparse_kernel_available", [] { return cpu::gemm::s8_sparse_kernel_available(); },
      "Whether the 2:4 sparse int8 kernel runs here (AVX512-VNNI and AVX512-VBMI).");
}
}  // namespace r1::bindings
