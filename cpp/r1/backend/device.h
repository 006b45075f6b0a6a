// The device interface every backend implements, split by concern:
//   Allocator  - hands out Buffers of one MemoryKind (device memory, pinned host, file-backed)
//   Stream     - an ordered queue of work; Event - a point in a stream to wait on
//   KernelTable- the device's kernels by op
//   Device     - ties them together, plus copies between host and device memory
//
//   Device& cpu = BackendRegistry::instance().device("cpu");
//   auto buf = cpu.allocator().allocate(1 << 20);
//   auto s = cpu.create_stream(); s->synchronize();
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "r1/backend/kernel.h"
#include "r1/core/buffer.h"

namespace r1 {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual std::shared_ptr<Buffer> allocate(size_t bytes) = 0;
  virtual MemoryKind kind() const = 0;
  // For GPU allocators: the native stream (cudaStream_t / hipStream_t) allocations are ordered on,
  // which is the stream kernels launch on, and the device index; nullptr / -1 elsewhere. Kernels in
  // other modules (_cublas) launch through these instead of the GPU module's own types.
  virtual void* native_stream() const { return nullptr; }
  virtual int device_index() const { return -1; }
  // A caching allocator frees the cached blocks nobody took since the previous call (a long-running
  // server calls it every few seconds: blocks in steady use stay, a burst's leftovers go); returns bytes.
  virtual size_t trim_idle() { return 0; }
};

class Event {
 public:
  virtual ~Event() = default;
  virtual void synchronize() = 0;  // block the host until the event has happened
  virtual bool query() = 0;        // true when it has happened
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual void synchronize() = 0;
  virtual void record(Event& e) = 0;  // e happens when work queued so far is done
  virtual void wait(Event& e) = 0;    // later work waits for e
};

// Sim: host memory posing as an accelerator's (cpu/sim_device.h), to test placement and transfers
// on machines without a GPU.
// Device work recorded once and replayed (a CUDA / HIP graph): Device::capture.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  // Queues the recorded work on the device's compute stream (after what is queued there already).
  virtual void replay() = 0;
};

enum class DeviceKind : uint8_t { CPU = 0, CUDA = 1, HIP = 2, Sim = 3 };

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual DeviceKind kind() const = 0;
  virtual Allocator& allocator() = 0;       // device memory (host memory for the CPU)
  virtual Allocator& host_allocator() = 0;  // staging memory for transfers (pinned on GPUs)
  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  virtual const KernelTable& kernels() const = 0;
  // Byte copy between any two buffers this device can address, ordered on `stream`
  // (nullptr: synchronous).
  virtual void copy(const Buffer& src, size_t src_off, Buffer& dst, size_t dst_off, size_t bytes, Stream* stream) = 0;
  // Replaces the kernel of one op (a library-backed GEMM from another module); *previous gets the
  // kernel it replaces (nullptr: none) so the new one can hand it what it does not cover. An entry
  // without a predicate or host inputs keeps the old one's. Devices that take no overrides throw.
  // (Inline, like every Device member: an out-of-line one would make the GPU modules pull in the .o
  // that defines it, and with it the CPU backend and OpenBLAS.)
  virtual void override_kernel(const std::string& op_type, const std::string& domain, const KernelEntry& entry,
                               KernelFn* previous) {
    R1_THROW(DeviceError) << "device " << name() << " does not take kernel overrides (for "
                          << (domain.empty() ? op_type : domain + "::" + op_type) << ")";
  }
  // Records the device work `work` queues into a graph instead of running it. `work` must run its
  // kernels with the allocator it is given: its native_stream() is the capturing stream, and the
  // memory it hands out stays allocated (at fixed addresses) as long as the returned object lives.
  // nullptr: this device cannot capture (the CPU). Throws what `work` throws (capture abandoned).
  virtual std::unique_ptr<CapturedWork> capture(const std::function<void(Allocator&)>& work) { return nullptr; }
};

// A copy of t in `alloc`'s memory (device or host), written through dev's copy engine; complete on
// return when stream is null.
inline Tensor copy_tensor(Device& dev, Allocator& alloc, const Tensor& t, Stream* stream = nullptr) {
  Tensor c(t.dtype(), t.shape(), alloc.allocate(t.nbytes()));
  if (t.nbytes()) dev.copy(*t.buffer(), t.byte_offset(), *c.buffer(), 0, t.nbytes(), stream);
  return c;
}

}  // namespace r1
