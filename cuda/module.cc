// deepseek_r1._cuda (or _hip, built from the same file): the GPU backend as its own extension
// module. Importing it registers the backend into _core; the functions here only convert.
// R1_GPU_MODULE is the module name, set by the build.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "backend.h"

namespace py = pybind11;

namespace {

r1::gpu::GpuDevice& opened(int index) {
  r1::gpu::GpuDevice* d = r1::gpu::opened_device(index);
  R1_CHECK(d != nullptr, DeviceError) << R1_GPU_BACKEND_NAME ":" << index
                                      << " has not been opened (deepseek_r1._core.open_device first)";
  return *d;
}

// r1 errors thrown here become the Python classes _core defined (deepseek_r1.DeviceError, ...).
void translate_errors(py::module_& core) {
  static py::object device_error = core.attr("DeviceError"), input_error = core.attr("InputError"),
                    model_error = core.attr("ModelError"), internal_error = core.attr("InternalError"),
                    base_error = core.attr("R1Error");
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const r1::DeviceError& e) {
      PyErr_SetString(device_error.ptr(), e.what());
    } catch (const r1::InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const r1::ModelError& e) {
      PyErr_SetString(model_error.ptr(), e.what());
    } catch (const r1::InternalError& e) {
      PyErr_SetString(internal_error.ptr(), e.what());
    } catch (const r1::Error& e) {
      PyErr_SetString(base_error.ptr(), e.what());
    }
  });
}

}  // namespace

PYBIND11_MODULE(R1_GPU_MODULE, m) {
  m.doc() = "deepseek_r1 " R1_GPU_BACKEND_NAME " backend (registers itself into deepseek_r1._core on import)";
  py::module_ core = py::module_::import("deepseek_r1._core");
  translate_errors(core);
  py::capsule cap = core.attr("_registry_capsule");
  auto* hook = static_cast<const r1_backend_hook*>(PyCapsule_GetPointer(cap.ptr(), R1_BACKEND_HOOK_CAPSULE));
  if (!hook) throw py::error_already_set();
  r1::gpu::register_backend(hook);

  m.attr("backend") = R1_GPU_BACKEND_NAME;
  m.attr("warp_size") = r1::gpu::WARP_SIZE;
  m.def("device_count", &r1::gpu::device_count, "GPUs present (0 without a driver or a device).");
  m.def(
      "device_name", [](int index) { return opened(index).product_name(); }, py::arg("index") = 0,
      "The product name the driver reports for an opened device.");
  m.def(
      "memory_stats",
      [](int index) {
        r1::gpu::GpuDevice& d = opened(index);
        d.synchronize();  // frees queued on the stream are counted once they have run
        r1::gpu::MemoryPool::Stats s = d.pool().stats();
        py::dict out;
        out["used_bytes"] = s.used_bytes;
        out["reserved_bytes"] = s.reserved_bytes;
        out["live_buffers"] = s.live_buffers;
        return out;
      },
      py::arg("index") = 0, "The memory pool of an opened device: used / reserved bytes and live buffers.");
  m.def(
      "trim",
      [](int index, size_t keep_bytes) {
        r1::gpu::GpuDevice& d = opened(index);
        d.synchronize();
        d.pool().trim(keep_bytes);
      },
      py::arg("index") = 0, py::arg("keep_bytes") = 0, "Returns unused pool memory to the driver, keeping keep_bytes.");
  m.def(
      "set_release_threshold", [](int index, uint64_t bytes) { opened(index).pool().set_release_threshold(bytes); },
      py::arg("index"), py::arg("bytes"),
      "Memory the pool keeps reserved across synchronisations (default: all of it).");
  m.def(
      "kernel_ops",
      [] {
        r1::KernelTable t;  // the same list every device gets; needs no device
        r1::gpu::register_gpu_kernels(t);
        return t.op_names();
      },
      "The ops with a kernel on this backend.");
}
