// deepseek_r1._cusparselt: importing it (after deepseek_r1._cuda, and after _cublas when present) wraps the CUDA
// backend's r1::FusedMatMul so that products with 2:4 sparse fp16 / bf16 weights run on cuSPARSELt (see
// cusparselt_spmm.h). deepseek_r1.gpu imports it when present.
#include <cusparseLt.h>
#include <pybind11/pybind11.h>

#include "cusparselt_spmm.h"

namespace py = pybind11;

PYBIND11_MODULE(_cusparselt, m) {
  m.doc() = "cuSPARSELt 2:4 sparse FusedMatMul for deepseek_r1's CUDA backend (registers itself on import)";
  py::module_ core = py::module_::import("deepseek_r1._core");
  py::module_::import("deepseek_r1._cuda");  // the kernel wrapped must be registered first
  py::capsule cap = core.attr("_registry_capsule");
  auto* hook = static_cast<const r1_backend_hook*>(PyCapsule_GetPointer(cap.ptr(), R1_BACKEND_HOOK_CAPSULE));
  if (!hook) throw py::error_already_set();
  try {
    r1::cusparselt::register_kernels(hook);
  } catch (const r1::Error& e) {
    throw py::import_error(e.what());
  }
  m.attr("compiled_version") = CUSPARSELT_VERSION;
  m.def(
      "stats",
      [] {
        const r1::cusparselt::Stats s = r1::cusparselt::stats();
        py::dict out;
        out["sparse_calls"] = s.sparse_calls;
        out["fallback_calls"] = s.fallback_calls;
        out["sparse_weights"] = s.sparse_weights;
        out["dense_weights"] = s.dense_weights;
        return out;
      },
      "Products run by cuSPARSELt and handed to the wrapped kernel since reset_stats(), and the weights found 2:4 "
      "(compressed) or not.");
  m.def("reset_stats", &r1::cusparselt::reset_stats, "Zeroes the call counters of stats().");
}
