// Copies between pageable host memory and the device through a ring of pinned staging chunks.
//
//   StagingRing ring(/*device=*/0);
//   ring.to_device(dev_ptr, host_ptr, bytes, stream);   // returns once host_ptr may be reused
//   ring.to_host(host_ptr, dev_ptr, bytes, stream);     // returns once host_ptr holds the data
//
// Why: a copy from pageable memory is staged by the driver anyway and blocks the host; with our
// own pinned chunks the memcpy into chunk k+1 overlaps the DMA of chunk k, and to_device does not
// wait for the device to finish earlier work on the stream.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "r1/core/buffer.h"
#include "stream.h"

namespace r1::gpu {

class StagingRing {
 public:
  explicit StagingRing(int device, size_t chunk_bytes = size_t{4} << 20, int chunks = 3);
  void to_device(void* dst, const void* src, size_t bytes, gpuStream_t stream);
  void to_host(void* dst, const void* src, size_t bytes, gpuStream_t stream);

 private:
  struct Chunk {
    std::shared_ptr<Buffer> mem;     // pinned
    std::unique_ptr<GpuEvent> done;  // recorded after the last copy that used the chunk
    bool pending = false;
  };
  Chunk& acquire();  // the next chunk, once its previous copy has finished
  int device_;
  size_t chunk_bytes_;
  std::mutex mu_;  // one copy at a time uses the ring
  std::vector<Chunk> chunks_;
  size_t next_ = 0;
};

}  // namespace r1::gpu
