// _core's side of the backend hook (plugin.h): wraps the C callbacks of an external module into
// the BackendRegistry's factory and counter.
#include "r1/backend/plugin.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "r1/backend/registry.h"

namespace r1 {
namespace {

void write_error(char* err, size_t errlen, const std::string& msg) {
  if (!err || errlen == 0) return;
  size_t n = std::min(errlen - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

int add_backend(const char* name, r1_device_create_fn create, r1_device_count_fn count, void* user, char* err,
                size_t errlen) {
  // Nothing may unwind into the caller's C frame: report failures through err.
  try {
    R1_CHECK(name && *name && create && count, DeviceError) << "add_backend needs a name and both callbacks";
    std::string backend = name;
    BackendRegistry::instance().add(
        backend,
        [backend, create, user](int index) {
          char msg[512] = {0};
          Device* d = create(index, user, msg, sizeof msg);
          R1_CHECK(d != nullptr, DeviceError) << "could not open " << backend << ":" << index << ": " << msg;
          return std::unique_ptr<Device>(d);
        },
        [count, user] { return count(user); });
    return 0;
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
    return -1;
  }
}

int add_kernel(const char* backend, const char* op_type, const char* domain, KernelFn fn, uint32_t host_inputs,
               KernelSupportsFn supports, KernelFn* previous, char* err, size_t errlen) {
  try {
    R1_CHECK(backend && *backend && op_type && *op_type && fn, DeviceError)
        << "add_kernel needs a backend, an op and a kernel";
    BackendRegistry::instance().add_kernel_override(backend, op_type, domain ? domain : "",
                                                    KernelEntry{fn, host_inputs, supports}, previous);
    return 0;
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
    return -1;
  }
}

}  // namespace

const r1_backend_hook* core_backend_hook() {
  static const r1_backend_hook hook = {R1_BACKEND_HOOK_ABI, sizeof(r1_backend_hook), backend_layout_fingerprint(),
                                       &add_backend, &add_kernel};
  return &hook;
}

}  // namespace r1
