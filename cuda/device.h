// The GPU device (r1::Device for "cuda:N", or "hip:N" when compiled as HIP): a compute stream the
// kernels run on, the stream-ordered memory pool, pinned staging memory and the kernel table.
//
//   int n = device_count();                          // 0 without a driver or a GPU; never throws
//   std::unique_ptr<GpuDevice> d = make_device(0);   // DeviceError when it cannot be opened
//   d->pool().stats();  d->pool().trim(0);
//   // in a kernel: KernelLaunch env(ctx); my_kernel<<<grid, block, 0, env.stream()>>>(...);
#pragma once
#include <memory>
#include <string>

#include "common.cuh"
#include "memory_pool.h"
#include "r1/backend/device.h"
#include "staging.h"
#include "stream.h"

namespace r1::gpu {

class GpuDevice final : public Device {
 public:
  explicit GpuDevice(int index);
  ~GpuDevice() override;
  std::string name() const override { return name_; }
  DeviceKind kind() const override;
  Allocator& allocator() override { return pool_; }
  Allocator& host_allocator() override { return pinned_; }
  std::unique_ptr<Stream> create_stream() override;
  std::unique_ptr<Event> create_event() override;
  const KernelTable& kernels() const override { return kernels_; }
  void copy(const Buffer& src, size_t src_off, Buffer& dst, size_t dst_off, size_t bytes, Stream* stream) override;
  void override_kernel(const std::string& op_type, const std::string& domain, const KernelEntry& entry,
                       KernelFn* previous) override;
  std::unique_ptr<CapturedWork> capture(const std::function<void(Allocator&)>& work) override;  // graph_capture.cc

  int index() const { return index_; }
  const std::string& product_name() const { return product_; }  // "NVIDIA H100 80GB HBM3"
  MemoryPool& pool() { return pool_; }
  gpuStream_t compute_stream() const { return compute_->get(); }
  void synchronize() { compute_->synchronize(); }

 private:
  int index_;
  std::string name_, product_;
  std::shared_ptr<StreamHandle> compute_;
  MemoryPool pool_;
  PinnedAllocator pinned_;
  StagingRing staging_;
  KernelTable kernels_;
};

int device_count() noexcept;
std::unique_ptr<GpuDevice> make_device(int index);

// What a kernel needs to launch: its device made current and the stream to launch on.
class KernelLaunch {
 public:
  explicit KernelLaunch(const KernelContext& ctx);
  gpuStream_t stream() const { return stream_; }
  int device() const { return device_; }

 private:
  int device_;
  gpuStream_t stream_;
  DeviceScope scope_;
};

// Defined in kernels/kernel_list.cc: every GPU kernel family, in one list.
void register_gpu_kernels(KernelTable& table);

}  // namespace r1::gpu
