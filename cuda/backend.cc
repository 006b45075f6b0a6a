#include "backend.h"

#include <cstring>
#include <mutex>
#include <vector>

namespace r1::gpu {
namespace {

std::mutex g_mu;
std::vector<GpuDevice*> g_opened;  // owned by _core's registry, which keeps them to process exit

void write_error(char* err, size_t errlen, const char* msg) {
  if (!err || errlen == 0) return;
  std::strncpy(err, msg, errlen - 1);
  err[errlen - 1] = '\0';
}

// C callbacks: nothing may unwind into _core's frame, so failures come back as messages.
Device* create(int index, void*, char* err, size_t errlen) {
  try {
    std::unique_ptr<GpuDevice> d = make_device(index);
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_opened.size() <= static_cast<size_t>(index)) g_opened.resize(index + 1, nullptr);
    g_opened[index] = d.get();
    return d.release();  // ownership passes to _core (unique_ptr<Device> there)
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
  } catch (...) {
    write_error(err, errlen, "unknown error");
  }
  return nullptr;
}

int count(void*) { return device_count(); }

}  // namespace

void register_backend(const r1_backend_hook* hook) {
  check_backend_hook(hook);
  char err[512] = {0};
  R1_CHECK(hook->add_backend(R1_GPU_BACKEND_NAME, &create, &count, nullptr, err, sizeof err) == 0, DeviceError)
      << "registering the " R1_GPU_BACKEND_NAME " backend failed: " << err;
}

GpuDevice* opened_device(int index) {
  std::lock_guard<std::mutex> lk(g_mu);
  return index >= 0 && static_cast<size_t>(index) < g_opened.size() ? g_opened[index] : nullptr;
}

}  // namespace r1::gpu
