#include "r1/core/buffer.h"

#include <cstdlib>
#include <new>

#include "r1/core/error.h"

namespace r1 {

const char* memory_kind_name(MemoryKind k) {
  switch (k) {
    case MemoryKind::Host: return "host";
    case MemoryKind::PinnedHost: return "pinned_host";
    case MemoryKind::Device: return "device";
    case MemoryKind::FileBacked: return "file_backed";
  }
  return "?";
}

std::shared_ptr<HostBuffer> HostBuffer::allocate(size_t bytes) {
  size_t n = (bytes + 63) / 64 * 64;
  if (n == 0) n = 64;
  void* p = std::aligned_alloc(64, n);
  R1_CHECK(p != nullptr, DeviceError) << "out of host memory allocating " << bytes << " bytes";
  return std::shared_ptr<HostBuffer>(new HostBuffer(p, bytes));
}

HostBuffer::~HostBuffer() { std::free(data_); }

}  // namespace r1
