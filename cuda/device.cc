#include "device.h"

#include <cstring>

namespace r1::gpu {

GpuDevice::GpuDevice(int index)
    : index_(index),
      name_(std::string(R1_GPU_BACKEND_NAME ":") + std::to_string(index)),
      compute_(std::make_shared<StreamHandle>(index)),
      pool_(index, compute_),
      pinned_(index),
      staging_(index) {
  gpuDeviceProp prop;
  R1_GPU_CHECK(gpuGetDeviceProperties(&prop, index));
  product_ = prop.name;
  register_gpu_kernels(kernels_);
}

GpuDevice::~GpuDevice() {
  // Buffers free themselves in stream order; let that work finish before the stream goes.
  // At process exit the runtime may be gone already: errors are dropped.
  check_noexcept(gpuStreamSynchronize(compute_->get()));
}

DeviceKind GpuDevice::kind() const {
#if defined(R1_HIP)
  return DeviceKind::HIP;
#else
  return DeviceKind::CUDA;
#endif
}

std::unique_ptr<Stream> GpuDevice::create_stream() {
  return std::make_unique<GpuStream>(std::make_shared<StreamHandle>(index_));
}

std::unique_ptr<Event> GpuDevice::create_event() { return std::make_unique<GpuEvent>(index_); }

namespace {
bool pageable(const Buffer& b) { return b.kind() == MemoryKind::Host || b.kind() == MemoryKind::FileBacked; }
}  // namespace

void GpuDevice::copy(const Buffer& src, size_t src_off, Buffer& dst, size_t dst_off, size_t bytes, Stream* stream) {
  R1_CHECK(src_off + bytes <= src.size() && dst_off + bytes <= dst.size(), InternalError)
      << "copy of " << bytes << " bytes out of buffer bounds";
  if (bytes == 0) return;
  DeviceScope scope(index_);
  // nullptr: ordered after the kernels (compute stream), and complete on return.
  gpuStream_t s = stream ? as_gpu_stream(*stream) : compute_->get();
  const char* from = static_cast<const char*>(src.data()) + src_off;
  char* to = static_cast<char*>(dst.data()) + dst_off;
  bool src_pageable = pageable(src), dst_pageable = pageable(dst);
  if (src_pageable && dst_pageable) {
    R1_GPU_CHECK(gpuStreamSynchronize(s));  // either side may still be read or written by queued work
    std::memmove(to, from, bytes);
    return;
  }
  if (src_pageable)
    staging_.to_device(to, from, bytes, s);
  else if (dst_pageable)
    staging_.to_host(to, from, bytes, s);  // returns with dst filled
  else
    R1_GPU_CHECK(gpuMemcpyAsync(to, from, bytes, gpuMemcpyDefault, s));
  if (!stream) R1_GPU_CHECK(gpuStreamSynchronize(s));
}

void GpuDevice::override_kernel(const std::string& op_type, const std::string& domain, const KernelEntry& entry,
                                KernelFn* previous) {
  const KernelEntry* old = kernels_.entry(op_type, domain);
  if (previous) *previous = old ? old->fn : nullptr;
  KernelEntry e = entry;
  if (old && !e.supports) e.supports = old->supports;
  if (old && !e.host_inputs) e.host_inputs = old->host_inputs;
  kernels_.add(op_type, e.fn, domain, e.host_inputs, e.supports);
}

int device_count() noexcept {
  int n = 0;
  // No driver, no device, a driver too old for this runtime: all mean "no devices here".
  if (gpuGetDeviceCount(&n) != gpuSuccess) {
    (void)gpuGetLastError();
    return 0;
  }
  return n;
}

std::unique_ptr<GpuDevice> make_device(int index) {
  int n = device_count();
  R1_CHECK(index >= 0 && index < n, DeviceError)
      << R1_GPU_BACKEND_NAME ":" << index << " does not exist (" << n << " device(s) present)";
  return std::make_unique<GpuDevice>(index);
}

namespace {
// The stream and device a kernel launches on come from its allocator: the device's pool, or the
// capture allocator while a plan is being recorded into a graph (graph_capture.cc).
gpuStream_t stream_of(const KernelContext& ctx) {
  void* s = ctx.allocator().native_stream();
  R1_CHECK(s != nullptr && ctx.allocator().device_index() >= 0, InternalError)
      << "node " << ctx.node().label() << ": a " R1_GPU_BACKEND_NAME " kernel ran with another device's allocator";
  return static_cast<gpuStream_t>(s);
}
}  // namespace

KernelLaunch::KernelLaunch(const KernelContext& ctx)
    : device_(ctx.allocator().device_index()), stream_(stream_of(ctx)), scope_(device_) {}

}  // namespace r1::gpu
