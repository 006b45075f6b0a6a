// Error checks and launch helpers shared by the GPU backend's host code and kernels.
//
//   R1_GPU_CHECK(gpuStreamSynchronize(s));          // throws r1::DeviceError with the driver's message
//   my_kernel<<<blocks_for(n), kThreads, 0, s>>>(...);
//   R1_GPU_CHECK_LAUNCH();                          // a bad launch configuration becomes DeviceError
//   DeviceScope scope(index);                       // current device for this thread, restored after
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "r1/core/error.h"
#include "vendor.h"

namespace r1::gpu {

// Turns a runtime error into r1::DeviceError (deepseek_r1.DeviceError in Python) naming the call.
inline void check(gpuError_t e, const char* what, const char* file, int line) {
  if (e == gpuSuccess) return;
  (void)gpuGetLastError();  // clear a non-sticky error so the next call does not report it again
  R1_THROW(DeviceError) << R1_GPU_VENDOR_PREFIX << " error in " << what << ": " << gpuGetErrorString(e) << " ("
                        << gpuGetErrorName(e) << ") at " << file << ":" << line;
}

// Same, for destructors: they must not throw, and at process exit the runtime may already be
// unloading; such errors are dropped.
inline void check_noexcept(gpuError_t e) {
  if (e != gpuSuccess) (void)gpuGetLastError();
}

constexpr int kThreads = 256;  // default block size: a multiple of both warp widths
// Grid-stride loops cover any n; the cap keeps the grid small for huge tensors.
inline unsigned blocks_for(int64_t n, int threads = kThreads, int64_t max_blocks = 65535) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(b, max_blocks)));
}

// Makes `index` the calling thread's current device for the scope's lifetime.
class DeviceScope {
 public:
  explicit DeviceScope(int index) {
    check(gpuGetDevice(&prev_), "GetDevice", __FILE__, __LINE__);
    if (prev_ != index) {
      check(gpuSetDevice(index), "SetDevice", __FILE__, __LINE__);
      changed_ = true;
    }
  }
  ~DeviceScope() {
    if (changed_) check_noexcept(gpuSetDevice(prev_));
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = 0;
  bool changed_ = false;
};

// One T per device (a library's handle and its caches), made on first use and never freed: the handles must not
// be destroyed after the GPU runtime has shut down at process exit.
//   PerDevice<State> g_states;   State& s = g_states.get(device);
template <class T>
class PerDevice {
 public:
  T& get(int device) {
    std::lock_guard<std::mutex> lk(mu_);
    std::unique_ptr<T>& s = (*states_)[device];
    if (!s) s = std::make_unique<T>();
    return *s;
  }
  // f(T&) for each device's state made so far.
  template <class F>
  void for_each(F f) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& kv : *states_) f(*kv.second);
  }

 private:
  std::mutex mu_;
  std::map<int, std::unique_ptr<T>>* states_ = new std::map<int, std::unique_ptr<T>>();
};

}  // namespace r1::gpu

#define R1_GPU_CHECK(expr) ::r1::gpu::check((expr), #expr, __FILE__, __LINE__)
#define R1_GPU_CHECK_LAUNCH() ::r1::gpu::check(gpuGetLastError(), "kernel launch", __FILE__, __LINE__)
