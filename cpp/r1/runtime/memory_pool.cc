#include "r1/runtime/memory_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "r1/core/error.h"

namespace r1 {
namespace {

size_t page_round(size_t n) { return (n + 4095) / 4096 * 4096; }

class PageBuffer final : public Buffer {
 public:
  PageBuffer(size_t bytes, bool writable) : Buffer(nullptr, bytes, MemoryKind::Host), writable_(writable) {
    const size_t n = page_round(bytes ? bytes : 1);
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    R1_CHECK(p != MAP_FAILED, DeviceError)
        << "out of host memory allocating " << bytes << " bytes: " << std::strerror(errno);
    data_ = p;
#ifdef MADV_HUGEPAGE
    // Weights of megabytes: 2 MiB pages fault in 512x fewer times when a read first lands in them.
    if (n >= (size_t{2} << 20)) ::madvise(p, n, MADV_HUGEPAGE);
#endif
  }
  ~PageBuffer() override { ::munmap(data_, page_round(size_ ? size_ : 1)); }
  bool writable() const override { return writable_; }

 private:
  bool writable_;
};

// A buffer counted in a pool: the inner buffer's memory, the pool's bytes given back on destruction.
class CountedBuffer final : public Buffer {
 public:
  CountedBuffer(std::shared_ptr<Buffer> inner, std::shared_ptr<MemoryPool> pool, size_t bytes,
                std::shared_ptr<std::atomic<size_t>> live, bool writable)
      : Buffer(inner->data(), inner->size(), inner->kind(), inner->device_index()),
        inner_(std::move(inner)),
        pool_(std::move(pool)),
        bytes_(bytes),
        live_(std::move(live)),
        writable_(writable) {}
  ~CountedBuffer() override {
    inner_.reset();  // the memory goes first, then the budget says so
    if (live_) *live_ -= bytes_;
    pool_->give(bytes_);
  }
  bool writable() const override { return writable_ && inner_->writable(); }

 private:
  std::shared_ptr<Buffer> inner_;
  std::shared_ptr<MemoryPool> pool_;
  size_t bytes_;
  std::shared_ptr<std::atomic<size_t>> live_;
  bool writable_;
};

void raise_peak(std::atomic<size_t>& peak, size_t now) {
  size_t p = peak.load();
  while (now > p && !peak.compare_exchange_weak(p, now)) {
  }
}

}  // namespace

std::shared_ptr<MemoryPool> MemoryPool::shared(const std::string& tier, size_t capacity) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<MemoryPool>> pools;
  std::lock_guard<std::mutex> lk(mu);
  std::shared_ptr<MemoryPool> p = pools[tier].lock();
  if (!p) {
    p = std::make_shared<MemoryPool>(tier, capacity);
    p->shared_ = true;
    pools[tier] = p;
  } else {
    p->set_capacity(capacity);
  }
  return p;
}

void MemoryPool::set_capacity(size_t bytes) { capacity_ = bytes; }

void MemoryPool::take(size_t n) { raise_peak(peak_, used_ += n); }

bool MemoryPool::try_take(size_t n, size_t headroom) {
  size_t u = used_.load();
  do {
    if (u + n + headroom > capacity_.load()) return false;
  } while (!used_.compare_exchange_weak(u, u + n));
  raise_peak(peak_, u + n);
  return true;
}

void MemoryPool::add_reclaimer(Reclaimer* r) {
  std::lock_guard<std::mutex> lk(reclaim_mu_);
  reclaimers_.emplace_back(++clock_, r);
}

void MemoryPool::remove_reclaimer(Reclaimer* r) {
  std::lock_guard<std::mutex> lk(reclaim_mu_);
  reclaimers_.erase(
      std::remove_if(reclaimers_.begin(), reclaimers_.end(), [&](const auto& e) { return e.second == r; }),
      reclaimers_.end());
}

void MemoryPool::touch(Reclaimer* r) {
  std::lock_guard<std::mutex> lk(reclaim_mu_);
  for (auto& e : reclaimers_)
    if (e.second == r) e.first = ++clock_;
}

size_t MemoryPool::reclaim(size_t bytes, const Reclaimer* except) {
  // Held while asking: a reclaimer never blocks (it only try-locks its own state), so this cannot deadlock,
  // and one that is being removed waits here until the call is over.
  std::lock_guard<std::mutex> lk(reclaim_mu_);
  std::vector<std::pair<uint64_t, Reclaimer*>> order = reclaimers_;
  std::sort(order.begin(), order.end());
  size_t got = 0;
  for (const auto& [stamp, r] : order) {
    if (got >= bytes) break;
    if (r != except) got += r->reclaim();
  }
  return got;
}

std::shared_ptr<Buffer> allocate_pages(size_t bytes, bool writable) {
  return std::make_shared<PageBuffer>(bytes, writable);
}

std::shared_ptr<Buffer> counted_buffer(std::shared_ptr<Buffer> inner, std::shared_ptr<MemoryPool> pool, size_t bytes,
                                       std::shared_ptr<std::atomic<size_t>> live, bool writable) {
  return std::make_shared<CountedBuffer>(std::move(inner), std::move(pool), bytes, std::move(live), writable);
}

std::shared_ptr<Buffer> BudgetAllocator::allocate(size_t bytes) {
  pool_->take(bytes);
  raise_peak(peak_, live_ += bytes);
  std::shared_ptr<Buffer> inner;
  try {
    // Small blocks from the device's allocator (no page per tensor); large ones as pages returned on free.
    inner =
        inner_ ? inner_->allocate(bytes) : (bytes < (256u << 10) ? HostBuffer::allocate(bytes) : allocate_pages(bytes));
  } catch (...) {
    live_ -= bytes;
    pool_->give(bytes);
    throw;
  }
  return counted_buffer(std::move(inner), pool_, bytes, live_counter_);
}

}  // namespace r1
