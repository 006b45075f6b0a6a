#include "r1/core/buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "r1/core/error.h"

namespace r1 {

const char* memory_kind_name(MemoryKind k) {
  switch (k) {
    case MemoryKind::Host:
      return "host";
    case MemoryKind::PinnedHost:
      return "pinned_host";
    case MemoryKind::Device:
      return "device";
    case MemoryKind::FileBacked:
      return "file_backed";
  }
  return "?";
}

void drop_file_pages(const void* p, size_t len) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (lo + page - 1) / page * page, last = (lo + len) / page * page;
  // Advice only: a failure leaves the pages resident, which is merely what happens without it.
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void Buffer::drop_resident_pages(size_t offset, size_t len) const {
  if (kind_ != MemoryKind::FileBacked || !data_ || offset >= size_) return;
  drop_file_pages(static_cast<const char*>(data_) + offset, std::min(len, size_ - offset));
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
