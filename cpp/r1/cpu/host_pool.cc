#include "r1/cpu/host_pool.h"

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
      p = it->second.back();
      it->second.pop_back();
      cached_ -= cls;
    }
  }
  if (!p) {
    p = std::aligned_alloc(64, (cls + 63) / 64 * 64);
    R1_CHECK(p != nullptr, DeviceError) << "out of host memory allocating " << bytes << " bytes";
  }
  return std::make_shared<PooledBuffer>(p, bytes, cls, shared_from_this());
}

void HostPool::release(void* p, size_t cls) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cached_ + cls <= max_cached_) {
      free_[cls].push_back(p);
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

HostPool::~HostPool() {
  for (auto& kv : free_)
    for (void* p : kv.second) std::free(p);
}

}  // namespace r1
