#include "stream.h"

#include "common.cuh"

namespace r1::gpu {

StreamHandle::StreamHandle(int device) : device_(device) {
  DeviceScope scope(device);
  // Non-blocking: the legacy default stream (used by other libraries) must not serialise with ours.
  R1_GPU_CHECK(gpuStreamCreateWithFlags(&stream_, gpuStreamNonBlocking));
}

StreamHandle::~StreamHandle() {
  if (stream_) check_noexcept(gpuStreamDestroy(stream_));
}

void StreamHandle::synchronize() const { R1_GPU_CHECK(gpuStreamSynchronize(stream_)); }

GpuEvent::GpuEvent(int device) : device_(device) {
  DeviceScope scope(device);
  // No timing: cheaper to record, and these events only order work.
  R1_GPU_CHECK(gpuEventCreateWithFlags(&event_, gpuEventDisableTiming));
}

GpuEvent::~GpuEvent() {
  if (event_) check_noexcept(gpuEventDestroy(event_));
}

void GpuEvent::synchronize() { R1_GPU_CHECK(gpuEventSynchronize(event_)); }

bool GpuEvent::query() {
  gpuError_t e = gpuEventQuery(event_);
  if (e == gpuErrorNotReady) {
    (void)gpuGetLastError();
    return false;
  }
  R1_GPU_CHECK(e);
  return true;
}

void GpuEvent::record(gpuStream_t s) { R1_GPU_CHECK(gpuEventRecord(event_, s)); }

void GpuStream::record(Event& e) { as_gpu_event(e).record(get()); }

void GpuStream::wait(Event& e) { R1_GPU_CHECK(gpuStreamWaitEvent(get(), as_gpu_event(e).get(), 0)); }

GpuEvent& as_gpu_event(Event& e) {
  auto* g = dynamic_cast<GpuEvent*>(&e);
  R1_CHECK(g != nullptr, DeviceError) << "a " R1_GPU_BACKEND_NAME " stream can only record or wait on its own events";
  return *g;
}

gpuStream_t as_gpu_stream(Stream& s) {
  auto* g = dynamic_cast<GpuStream*>(&s);
  R1_CHECK(g != nullptr, DeviceError) << "a stream of another device was passed to a " R1_GPU_BACKEND_NAME " device";
  return g->get();
}

}  // namespace r1::gpu
