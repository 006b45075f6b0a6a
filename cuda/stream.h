// Streams and events of the GPU backend (r1::Stream / r1::Event over gpuStream_t / gpuEvent_t).
//
//   auto s = std::make_shared<StreamHandle>(0);      // a non-blocking stream on device 0
//   GpuStream stream(s);  GpuEvent e(0);
//   stream.record(e);  other.wait(e);  e.synchronize();
#pragma once
#include <memory>

#include "r1/backend/device.h"
#include "vendor.h"

namespace r1::gpu {

// Owns one stream. Shared (shared_ptr) by everything that enqueues on it, including buffers that
// free themselves in stream order, so the stream outlives its last user.
class StreamHandle {
 public:
  explicit StreamHandle(int device);
  ~StreamHandle();
  StreamHandle(const StreamHandle&) = delete;
  StreamHandle& operator=(const StreamHandle&) = delete;
  gpuStream_t get() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const;

 private:
  int device_;
  gpuStream_t stream_ = nullptr;
};

class GpuEvent final : public Event {
 public:
  explicit GpuEvent(int device);
  ~GpuEvent() override;
  GpuEvent(const GpuEvent&) = delete;
  GpuEvent& operator=(const GpuEvent&) = delete;
  void synchronize() override;
  bool query() override;
  void record(gpuStream_t s);
  gpuEvent_t get() const { return event_; }

 private:
  int device_;
  gpuEvent_t event_ = nullptr;
};

class GpuStream final : public Stream {
 public:
  explicit GpuStream(std::shared_ptr<StreamHandle> h) : h_(std::move(h)) {}
  void synchronize() override { h_->synchronize(); }
  void record(Event& e) override;
  void wait(Event& e) override;
  gpuStream_t get() const { return h_->get(); }

 private:
  std::shared_ptr<StreamHandle> h_;
};

// The GPU event behind an r1::Event; DeviceError when it belongs to another backend.
GpuEvent& as_gpu_event(Event& e);
// The stream behind an r1::Stream; DeviceError when it belongs to another backend.
gpuStream_t as_gpu_stream(Stream& s);

}  // namespace r1::gpu
