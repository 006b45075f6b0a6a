#include "r1/cpu/cpu_device.h"

#include <cstring>

#include "r1/cpu/host_pool.h"

namespace r1 {

namespace {

// CPU work runs when it is issued, so a stream is already synchronized and events have happened.
class CpuEvent final : public Event {
 public:
  void synchronize() override {}
  bool query() override { return true; }
};

class CpuStream final : public Stream {
 public:
  void synchronize() override {}
  void record(Event&) override {}
  void wait(Event&) override {}
};

class CpuDevice final : public Device {
 public:
  CpuDevice() { register_cpu_kernels(kernels_); }
  std::string name() const override { return "cpu"; }
  DeviceKind kind() const override { return DeviceKind::CPU; }
  Allocator& allocator() override { return *pool_; }
  Allocator& host_allocator() override { return *pool_; }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<CpuStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CpuEvent>(); }
  const KernelTable& kernels() const override { return kernels_; }
  void copy(const Buffer& src, size_t src_off, Buffer& dst, size_t dst_off, size_t bytes, Stream*) override {
    R1_CHECK(src_off + bytes <= src.size() && dst_off + bytes <= dst.size(), InternalError)
        << "copy of " << bytes << " bytes out of buffer bounds";
    std::memcpy(static_cast<char*>(dst.data()) + dst_off, static_cast<const char*>(src.data()) + src_off, bytes);
  }

 private:
  // Intermediates are recycled across runs; up to 1 GiB of freed blocks stays cached.
  std::shared_ptr<HostPool> pool_ = std::make_shared<HostPool>(size_t{1} << 30);
  KernelTable kernels_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device() { return std::make_unique<CpuDevice>(); }

}  // namespace r1
