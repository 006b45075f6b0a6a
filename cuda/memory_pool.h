// Device memory from a stream-ordered pool (cudaMemPool / hipMemPool), and pinned host memory.
//
//   MemoryPool pool(/*device=*/0, compute_stream);          // release threshold: keep everything
//   std::shared_ptr<Buffer> b = pool.allocate(1 << 20);      // ordered on compute_stream
//   b.reset();                                               // freed in stream order, memory stays pooled
//   pool.trim(0);                                            // hand unused memory back to the driver
//   MemoryPool::Stats s = pool.stats();                      // used / reserved bytes, live buffers
//
// Why a pool of our own (not the device's default pool): its release threshold and trim are ours
// to set without changing memory other libraries (PyTorch, cuBLAS) take from the default pool.
// The threshold is UINT64_MAX by default: memory freed at a synchronisation point stays reserved,
// so steady-state runs allocate from the pool without driver calls.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "r1/backend/device.h"
#include "stream.h"

namespace r1::gpu {

class MemoryPool final : public Allocator {
 public:
  struct Stats {
    uint64_t used_bytes = 0;      // in live allocations
    uint64_t reserved_bytes = 0;  // held by the pool from the driver
    int64_t live_buffers = 0;     // Buffers not yet freed
  };
  MemoryPool(int device, std::shared_ptr<StreamHandle> stream, uint64_t release_threshold = UINT64_MAX);
  ~MemoryPool() override;
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // Allocation and the buffer's eventual free are both ordered on the pool's stream: kernels on
  // that stream may use the memory at once; other streams must wait on an event first.
  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  MemoryKind kind() const override { return MemoryKind::Device; }
  void* native_stream() const override;
  int device_index() const override { return device_; }

  Stats stats() const;
  // Releases reserved memory not in use until the pool holds at most keep_bytes (stream-ordered
  // frees are only returned after the stream has reached them: synchronise first).
  void trim(size_t keep_bytes);
  void set_release_threshold(uint64_t bytes);
  int device() const { return device_; }
  const std::shared_ptr<StreamHandle>& stream() const { return stream_; }
  struct State;  // the pool handle, shared with the buffers so it outlives the last of them

 private:
  int device_;
  std::shared_ptr<StreamHandle> stream_;
  std::shared_ptr<State> state_;
};

// Page-locked host memory (MemoryKind::PinnedHost): the device DMAs from and to it directly.
class PinnedAllocator final : public Allocator {
 public:
  explicit PinnedAllocator(int device) : device_(device) {}
  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  MemoryKind kind() const override { return MemoryKind::PinnedHost; }

 private:
  int device_;
};

}  // namespace r1::gpu
