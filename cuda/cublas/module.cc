// deepseek_r1._cublas: importing it (after deepseek_r1._cuda, which it imports first) replaces the CUDA
// backend's MatMul, Gemm and r1::FusedMatMul kernels with cuBLASLt ones on every CUDA device, opened
// now or later (see cublaslt_gemm.h). deepseek_r1.gpu imports it when present.
#include <cublas_api.h>
#include <pybind11/pybind11.h>

#include "cublaslt_gemm.h"

namespace py = pybind11;

PYBIND11_MODULE(_cublas, m) {
  m.doc() = "cuBLASLt MatMul / Gemm / FusedMatMul for deepseek_r1's CUDA backend (registers itself on import)";
  py::module_ core = py::module_::import("deepseek_r1._core");
  py::module_::import("deepseek_r1._cuda");  // the kernels replaced must be registered first
  py::capsule cap = core.attr("_registry_capsule");
  auto* hook = static_cast<const r1_backend_hook*>(PyCapsule_GetPointer(cap.ptr(), R1_BACKEND_HOOK_CAPSULE));
  if (!hook) throw py::error_already_set();
  try {
    r1::cublas::register_kernels(hook);
  } catch (const r1::Error& e) {
    throw py::import_error(e.what());  // a stale build or an old _core: deepseek_r1.gpu records it
  }

  m.attr("compiled_version") = CUBLAS_VERSION;  // the headers built against, e.g. 130101
  m.def("version", &r1::cublas::runtime_version, "cublasLtGetVersion() of the libcublasLt loaded (e.g. 130101).");
  m.def(
      "tf32",
      [](py::object enabled) {
        if (!enabled.is_none()) r1::cublas::set_tf32(enabled.cast<bool>());
        return r1::cublas::tf32();
      },
      py::arg("enabled") = py::none(),
      "Float32 GEMMs on TF32 tensor cores (faster, ~1e-3 relative error) when enabled; off by default "
      "(exact float32). Returns the setting, after the change when one is given.");
  m.def(
      "stats",
      [] {
        r1::cublas::Stats s = r1::cublas::stats();
        py::dict out;
        out["cublas_calls"] = s.cublas_calls;
        out["fallback_calls"] = s.fallback_calls;
        out["cached_plans"] = s.cached_plans;
        return out;
      },
      "Nodes run by cuBLASLt and handed to the replaced kernel since the last reset_stats(), and the "
      "plans cached.");
  m.def("reset_stats", &r1::cublas::reset_stats, "Zeroes the call counters of stats().");
}
