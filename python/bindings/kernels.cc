// Kernel-level helpers: the GEMM weight packer (what the weight_prepack pass runs at load) and the
// GEMM ISA cap that lets tests reach the fallback paths on a machine that has every ISA.
#include <string>

#include "bind.h"
#include "numpy_bridge.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/pack.h"

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
}
}  // namespace r1::bindings
