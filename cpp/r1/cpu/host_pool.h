// A caching host allocator: freed blocks go back to per-size-class free lists and are handed out
// again, so steady-state runs do not pay for fresh pages (page faults dominated large outputs).
// Size classes are 4 per power of two (waste <= 25%); the cache is capped so memory returns to
// the system past `max_cached_bytes`.
//
//   HostPool pool(1ull << 30);
//   std::shared_ptr<Buffer> b = pool.allocate(1 << 20);   // reused after b is released
//   pool.trim_idle();                                      // frees what no allocation took since the last trim
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "r1/backend/device.h"

namespace r1 {

class HostPool final : public Allocator, public std::enable_shared_from_this<HostPool> {
 public:
  explicit HostPool(size_t max_cached_bytes) : max_cached_(max_cached_bytes) {}
  ~HostPool() override;
  std::shared_ptr<Buffer> allocate(size_t bytes) override;
  MemoryKind kind() const override { return MemoryKind::Host; }
  size_t cached_bytes() const;
  size_t trim_idle() override;

  static size_t size_class(size_t bytes);  // the block size actually reserved for `bytes`

 private:
  friend class PooledBuffer;
  void release(void* p, size_t cls);
  size_t max_cached_;
  mutable std::mutex mu_;
  struct Cached {
    void* p;
    uint64_t epoch;  // the trim period it was released in
  };
  std::map<size_t, std::vector<Cached>> free_;
  size_t cached_ = 0;
  uint64_t epoch_ = 0;
};

}  // namespace r1
