#include "staging.h"

#include <algorithm>
#include <cstring>

#include "common.cuh"
#include "memory_pool.h"

namespace r1::gpu {

StagingRing::StagingRing(int device, size_t chunk_bytes, int chunks) : device_(device), chunk_bytes_(chunk_bytes) {
  PinnedAllocator alloc(device);
  for (int i = 0; i < chunks; ++i) {
    Chunk c;
    c.mem = alloc.allocate(chunk_bytes);
    c.done = std::make_unique<GpuEvent>(device);
    chunks_.push_back(std::move(c));
  }
}

StagingRing::Chunk& StagingRing::acquire() {
  Chunk& c = chunks_[next_++ % chunks_.size()];
  if (c.pending) c.done->synchronize();
  c.pending = false;
  return c;
}

void StagingRing::to_device(void* dst, const void* src, size_t bytes, gpuStream_t stream) {
  std::lock_guard<std::mutex> lk(mu_);
  DeviceScope scope(device_);
  for (size_t off = 0; off < bytes; off += chunk_bytes_) {
    size_t n = std::min(chunk_bytes_, bytes - off);
    Chunk& c = acquire();
    std::memcpy(c.mem->data(), static_cast<const char*>(src) + off, n);
    R1_GPU_CHECK(gpuMemcpyAsync(static_cast<char*>(dst) + off, c.mem->data(), n, gpuMemcpyDefault, stream));
    c.done->record(stream);
    c.pending = true;
  }
}

void StagingRing::to_host(void* dst, const void* src, size_t bytes, gpuStream_t stream) {
  std::lock_guard<std::mutex> lk(mu_);
  DeviceScope scope(device_);
  // Piece k is copied out of its chunk while the DMA of piece k+1 runs.
  struct Piece {
    Chunk* chunk;
    size_t off, n;
  };
  std::vector<Piece> inflight;
  auto drain_one = [&] {
    Piece p = inflight.front();
    inflight.erase(inflight.begin());
    p.chunk->done->synchronize();
    p.chunk->pending = false;
    std::memcpy(static_cast<char*>(dst) + p.off, p.chunk->mem->data(), p.n);
  };
  for (size_t off = 0; off < bytes; off += chunk_bytes_) {
    size_t n = std::min(chunk_bytes_, bytes - off);
    if (inflight.size() + 1 >= chunks_.size()) drain_one();
    Chunk& c = acquire();
    R1_GPU_CHECK(gpuMemcpyAsync(c.mem->data(), static_cast<const char*>(src) + off, n, gpuMemcpyDefault, stream));
    c.done->record(stream);
    c.pending = true;
    inflight.push_back({&c, off, n});
  }
  while (!inflight.empty()) drain_one();
}

}  // namespace r1::gpu
