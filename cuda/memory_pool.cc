#include "memory_pool.h"

#include <cstring>

#include "common.cuh"

namespace r1::gpu {

struct MemoryPool::State {
  explicit State(int device) : device(device) {}
  ~State() {
    if (pool) check_noexcept(gpuMemPoolDestroy(pool));
  }
  int device;
  gpuMemPool_t pool = nullptr;
  std::atomic<int64_t> live{0};
};

namespace {

// Device memory that returns to its pool in stream order when the last owner drops it.
class PoolBuffer final : public Buffer {
 public:
  PoolBuffer(void* p, size_t n, int device, std::shared_ptr<StreamHandle> stream,
             std::shared_ptr<MemoryPool::State> state)
      : Buffer(p, n, MemoryKind::Device, device), stream_(std::move(stream)), state_(std::move(state)) {
    ++state_->live;
  }
  ~PoolBuffer() override {
    if (data_) {
      // Freed on its own device's stream whichever device this thread has current (multi-GPU);
      // a destructor must not throw, so no DeviceScope.
      int prev = -1;
      const bool switched =
          gpuGetDevice(&prev) == gpuSuccess && prev != device_index_ && gpuSetDevice(device_index_) == gpuSuccess;
      check_noexcept(gpuFreeAsync(data_, stream_->get()));
      if (switched) check_noexcept(gpuSetDevice(prev));
    }
    --state_->live;
  }

 private:
  std::shared_ptr<StreamHandle> stream_;
  std::shared_ptr<MemoryPool::State> state_;
};

class PinnedBuffer final : public Buffer {
 public:
  PinnedBuffer(void* p, size_t n, int device) : Buffer(p, n, MemoryKind::PinnedHost, device) {}
  ~PinnedBuffer() override {
    if (data_) check_noexcept(gpuFreeHost(data_));
  }
};

}  // namespace

MemoryPool::MemoryPool(int device, std::shared_ptr<StreamHandle> stream, uint64_t release_threshold)
    : device_(device), stream_(std::move(stream)), state_(std::make_shared<State>(device)) {
  DeviceScope scope(device);
  int supported = 0;
  R1_GPU_CHECK(gpuDeviceGetAttribute(&supported, gpuDevAttrMemoryPoolsSupported, device));
  R1_CHECK(supported, DeviceError) << R1_GPU_BACKEND_NAME ":" << device
                                   << " does not support stream-ordered memory pools (driver too old?)";
  gpuMemPoolProps props;
  std::memset(&props, 0, sizeof props);
  props.allocType = gpuMemAllocationTypePinned;
  props.location.type = gpuMemLocationTypeDevice;
  props.location.id = device;
  R1_GPU_CHECK(gpuMemPoolCreate(&state_->pool, &props));
  set_release_threshold(release_threshold);
}

MemoryPool::~MemoryPool() = default;  // the pool itself goes with the last buffer (State)

std::shared_ptr<Buffer> MemoryPool::allocate(size_t bytes) {
  void* p = nullptr;
  if (bytes) {
    DeviceScope scope(device_);
    gpuError_t e = gpuMallocFromPoolAsync(&p, bytes, state_->pool, stream_->get());
    if (e != gpuSuccess) {
      check_noexcept(e);
      Stats s = stats();
      R1_THROW(DeviceError) << "out of memory on " R1_GPU_BACKEND_NAME ":" << device_ << ": allocating " << bytes
                            << " bytes failed (" << gpuGetErrorString(e) << "); pool holds " << s.reserved_bytes
                            << " bytes, " << s.used_bytes << " in use";
    }
  }
  return std::make_shared<PoolBuffer>(p, bytes, device_, stream_, state_);
}

MemoryPool::Stats MemoryPool::stats() const {
  Stats s;
  uint64_t v = 0;
  R1_GPU_CHECK(gpuMemPoolGetAttribute(state_->pool, gpuMemPoolAttrUsedMemCurrent, &v));
  s.used_bytes = v;
  R1_GPU_CHECK(gpuMemPoolGetAttribute(state_->pool, gpuMemPoolAttrReservedMemCurrent, &v));
  s.reserved_bytes = v;
  s.live_buffers = state_->live.load();
  return s;
}

void MemoryPool::trim(size_t keep_bytes) { R1_GPU_CHECK(gpuMemPoolTrimTo(state_->pool, keep_bytes)); }

void MemoryPool::set_release_threshold(uint64_t bytes) {
  R1_GPU_CHECK(gpuMemPoolSetAttribute(state_->pool, gpuMemPoolAttrReleaseThreshold, &bytes));
}

std::shared_ptr<Buffer> PinnedAllocator::allocate(size_t bytes) {
  void* p = nullptr;
  if (bytes) {
    DeviceScope scope(device_);
    R1_GPU_CHECK(gpuMallocHost(&p, bytes));
  }
  return std::make_shared<PinnedBuffer>(p, bytes, device_);
}

}  // namespace r1::gpu

namespace r1::gpu {
void* MemoryPool::native_stream() const { return static_cast<void*>(stream_->get()); }
}  // namespace r1::gpu
