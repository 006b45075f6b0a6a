#include "r1/cpu/host_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace r1 {

class PooledBuffer final : public Buffer {
 public:
  PooledBuffer(void* p, size_t bytes, size_t cls, std::shared_ptr<HostPool> pool)
      : Buffer(p, bytes, MemoryKind::Host), cls_(cls), pool_(std::move(pool)) {}
  ~PooledBuffer() override { pool_->release(data_, cls_); }

 private:
  size_t cls_;
  std::shared_ptr<HostPool> pool_;  // outlives every buffer it handed out
};

namespace {
constexpr size_t kHugePage = size_t{2} << 20;

// Fresh memory costs a page fault per 4 KiB page on first touch: ~5,000 faults (several ms) in the
// first run of ResNet-50. Blocks of 2 MiB and more are aligned to 2 MiB and offered to transparent
// huge pages (where the kernel allows them on request: /sys/kernel/mm/transparent_hugepage/enabled is
// "madvise" or "always"), which fault 2 MiB at a time.
void* fresh_block(size_t cls) {
  if (cls < kHugePage) return std::aligned_alloc(64, (cls + 63) / 64 * 64);
  const size_t bytes = (cls + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, bytes);
#ifdef MADV_HUGEPAGE
  if (p) (void)::madvise(p, bytes, MADV_HUGEPAGE);  // advice: without it the block is still usable
#endif
  return p;
}
}  // namespace

size_t HostPool::size_class(size_t bytes) {
  if (bytes <= 256) return 256;
  // Beyond this the doubling below would overflow; such a request cannot be met anyway.
  R1_CHECK(bytes <= (size_t{1} << 62), DeviceError) << "cannot allocate " << bytes << " bytes";
  size_t top = 1;
  while (top < bytes) top <<= 1;
  size_t step = top / 8;  // 4 classes between top/2 and top
  return (bytes + step - 1) / step * step;
}

std::shared_ptr<Buffer> HostPool::allocate(size_t bytes) {
  size_t cls = size_class(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back().p;  // the most recently released: the warmest, and it keeps its epoch young
      it->second.pop_back();
      cached_ -= cls;
    }
  }
  if (!p) {
    p = fresh_block(cls);
    R1_CHECK(p != nullptr, DeviceError) << "out of host memory allocating " << bytes << " bytes";
  }
  return std::make_shared<PooledBuffer>(p, bytes, cls, shared_from_this());
}

void HostPool::release(void* p, size_t cls) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cached_ + cls <= max_cached_) {
      free_[cls].push_back({p, epoch_});
      cached_ += cls;
      return;
    }
  }
  std::free(p);
}

size_t HostPool::cached_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cached_;
}

size_t HostPool::trim_idle() {
  std::vector<void*> drop;
  size_t freed = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [cls, list] : free_) {
      // Released before the previous trim and not taken since: idle for a whole period.
      auto keep = std::stable_partition(list.begin(), list.end(), [&](const Cached& c) { return c.epoch >= epoch_; });
      for (auto it = keep; it != list.end(); ++it) drop.push_back(it->p);
      freed += cls * static_cast<size_t>(list.end() - keep);
      list.erase(keep, list.end());
    }
    cached_ -= freed;
    ++epoch_;
  }
  for (void* p : drop) std::free(p);  // outside the lock: munmap of large blocks takes a while
  return freed;
}

HostPool::~HostPool() {
  for (auto& kv : free_)
    for (const Cached& c : kv.second) std::free(c.p);
}

}  // namespace r1
