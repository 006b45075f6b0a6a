// GpuDevice::capture: records the kernels a plan launches into a CUDA / HIP graph, replayed later
// with one launch instead of one per node (fixed shapes only; the executor decides when).
//
// Why a private stream and plain allocations: the work is captured on a stream of its own, so
// other engines launching on the device's compute stream at the same time are not swept into the
// graph. Memory that kernels allocate while being captured (outputs outside the plan's arena,
// workspaces) must keep its address for every replay, so it comes from gpuMalloc (allowed in the
// relaxed capture mode) and lives as long as the graph: the stream-ordered pool would free it at
// the end of the capture.
#include <vector>

#include "device.h"

namespace r1::gpu {
namespace {

class PlainDeviceBuffer final : public Buffer {
 public:
  PlainDeviceBuffer(void* p, size_t n, int device) : Buffer(p, n, MemoryKind::Device, device) {}
  ~PlainDeviceBuffer() override {
    if (!data_) return;
    DeviceScope scope(device_index_);
    check_noexcept(gpuFree(data_));
  }
};

// Hands out memory that outlives the capture; kernels launch on the capturing stream.
class CaptureAllocator final : public Allocator {
 public:
  CaptureAllocator(int device, gpuStream_t stream, std::vector<std::shared_ptr<Buffer>>* keep)
      : device_(device), stream_(stream), keep_(keep) {}
  std::shared_ptr<Buffer> allocate(size_t bytes) override {
    void* p = nullptr;
    if (bytes) {
      DeviceScope scope(device_);
      R1_GPU_CHECK(gpuMalloc(&p, bytes));
    }
    auto b = std::make_shared<PlainDeviceBuffer>(p, bytes, device_);
    keep_->push_back(b);
    return b;
  }
  MemoryKind kind() const override { return MemoryKind::Device; }
  void* native_stream() const override { return static_cast<void*>(stream_); }
  int device_index() const override { return device_; }

 private:
  int device_;
  gpuStream_t stream_;
  std::vector<std::shared_ptr<Buffer>>* keep_;
};

class GpuCapturedWork final : public CapturedWork {
 public:
  GpuCapturedWork(int device, std::shared_ptr<StreamHandle> compute)
      : device_(device), compute_(std::move(compute)), capture_stream_(std::make_shared<StreamHandle>(device)) {}
  ~GpuCapturedWork() override {
    DeviceScope scope(device_);
    // A replay may still be running: let it finish before its memory goes.
    check_noexcept(gpuStreamSynchronize(compute_->get()));
    if (exec_) check_noexcept(gpuGraphExecDestroy(exec_));
    keep_.clear();
  }
  void replay() override {
    DeviceScope scope(device_);
    R1_GPU_CHECK(gpuGraphLaunch(exec_, compute_->get()));
  }

  int device_;
  std::shared_ptr<StreamHandle> compute_;
  std::shared_ptr<StreamHandle> capture_stream_;
  std::vector<std::shared_ptr<Buffer>> keep_;  // memory the graph uses: freed after the graph (destructor)
  gpuGraphExec_t exec_ = nullptr;
};

}  // namespace

std::unique_ptr<CapturedWork> GpuDevice::capture(const std::function<void(Allocator&)>& work) {
  DeviceScope scope(index_);
  // What the graph will read (the arena, uploaded inputs and weights) is written on the compute stream.
  R1_GPU_CHECK(gpuStreamSynchronize(compute_->get()));
  auto cap = std::make_unique<GpuCapturedWork>(index_, compute_);
  gpuStream_t s = cap->capture_stream_->get();
  CaptureAllocator alloc(index_, s, &cap->keep_);
  R1_GPU_CHECK(gpuStreamBeginCapture(s, gpuStreamCaptureModeRelaxed));
  try {
    work(alloc);
  } catch (...) {
    gpuGraph_t g = nullptr;
    check_noexcept(gpuStreamEndCapture(s, &g));  // leave capture mode before the stream is reused
    if (g) check_noexcept(gpuGraphDestroy(g));
    throw;
  }
  gpuGraph_t graph = nullptr;
  R1_GPU_CHECK(gpuStreamEndCapture(s, &graph));
  gpuError_t e = gpuGraphInstantiate(&cap->exec_, graph);
  check_noexcept(gpuGraphDestroy(graph));
  R1_GPU_CHECK(e);
  return cap;
}

}  // namespace r1::gpu
