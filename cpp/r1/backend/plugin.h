// The C-ABI hook through which a backend living in another extension module (_cuda, _hip)
// registers its devices into the one BackendRegistry inside _core.
//
//   // in _cuda, at import:
//   auto* hook = static_cast<const r1_backend_hook*>(PyCapsule_GetPointer(cap, R1_BACKEND_HOOK_CAPSULE));
//   r1::check_backend_hook(hook);                       // same ABI version and C++ type layout?
//   hook->add_backend("cuda", &create_device, &count_devices, nullptr, err, sizeof err);
//
// Why a hook: Python loads extension modules with RTLD_LOCAL, so _cuda cannot see _core's
// symbols; calling its own copy of BackendRegistry::instance() would fill a second, unused
// registry. _core publishes this table of plain function pointers in a PyCapsule
// (_core._registry_capsule) instead. The devices themselves still cross as C++ objects
// (r1::Device*), so both modules must agree on the layout of the types the executor and the
// kernels share: `layout` carries a fingerprint of them and registration is refused on mismatch.
#pragma once
#include <cstddef>
#include <cstdint>

#include "r1/backend/kernel.h"
#include "r1/core/tensor.h"

#define R1_BACKEND_HOOK_CAPSULE "deepseek_r1._core.backend_hook"
#define R1_BACKEND_HOOK_ABI 4u

namespace r1 {
class Device;
}

extern "C" {
// Creates device `index`; returns an owned r1::Device* (deleted by _core through its virtual
// destructor), or nullptr with a message in err[0..errlen) when it cannot.
typedef r1::Device* (*r1_device_create_fn)(int index, void* user, char* err, size_t errlen);
// Number of devices present; 0 when the driver or the hardware is absent. Must not throw.
typedef int (*r1_device_count_fn)(void* user);

struct r1_backend_hook {
  uint32_t abi_version;  // R1_BACKEND_HOOK_ABI
  uint32_t struct_size;  // sizeof(r1_backend_hook)
  uint64_t layout;       // r1::backend_layout_fingerprint() of the module that made it
  // Registers (or replaces) backend `name` ("cuda", "hip"). Returns 0, or -1 with err filled.
  int (*add_backend)(const char* name, r1_device_create_fn create, r1_device_count_fn count, void* user, char* err,
                     size_t errlen);
  // Replaces op (domain "" or "r1") on every device of `backend` ("cuda"), now and when opened later
  // (Device::override_kernel): *previous receives the kernel replaced. Returns 0, or -1 with err filled.
  int (*add_kernel)(const char* backend, const char* op_type, const char* domain, r1::KernelFn fn, uint32_t host_inputs,
                    r1::KernelSupportsFn supports, r1::KernelFn* previous, char* err, size_t errlen);
};
}

namespace r1 {

// A fingerprint of the C++ types that cross the module boundary (sizes, library ABI), computed
// in the caller's translation unit so each module reports what it was compiled with.
constexpr uint64_t backend_layout_fingerprint() {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the sizes
  const uint64_t parts[] = {sizeof(Tensor),
                            sizeof(Shape),
                            sizeof(KernelContext),
                            sizeof(KernelEntry),
                            sizeof(Node),
                            sizeof(Graph),
                            sizeof(AttributeMap),
                            sizeof(std::string),
                            sizeof(std::shared_ptr<Buffer>),
#ifdef _GLIBCXX_USE_CXX11_ABI
                            1000u + _GLIBCXX_USE_CXX11_ABI,
#endif
                            R1_BACKEND_HOOK_ABI};
  for (uint64_t p : parts) h = (h ^ p) * 1099511628211ull;
  return h;
}

// _core's hook (defined in plugin.cc; only _core calls it).
const r1_backend_hook* core_backend_hook();

// Throws DeviceError when `hook` is missing or was built against another ABI or type layout.
inline void check_backend_hook(const r1_backend_hook* hook) {
  R1_CHECK(hook != nullptr, DeviceError) << "deepseek_r1._core published no backend hook";
  R1_CHECK(hook->abi_version == R1_BACKEND_HOOK_ABI && hook->struct_size >= sizeof(r1_backend_hook), DeviceError)
      << "deepseek_r1._core backend hook ABI " << hook->abi_version << " does not match this module's "
      << R1_BACKEND_HOOK_ABI << ": rebuild the GPU module together with _core";
  R1_CHECK(hook->layout == backend_layout_fingerprint(), DeviceError)
      << "deepseek_r1._core was built with different C++ type layouts than this GPU module: rebuild both "
         "from the same source tree with the same compiler";
}

}  // namespace r1
