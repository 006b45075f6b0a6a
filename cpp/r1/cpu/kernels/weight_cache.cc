#include "r1/cpu/kernels/weight_cache.h"

#include <mutex>
#include <vector>

#include "r1/core/buffer.h"

namespace r1::cpu {
namespace {

struct CacheEntry {
  std::weak_ptr<Buffer> buffer;
  const Buffer* raw = nullptr;  // identity while `buffer` is alive
  size_t offset = 0;
  DType dtype = DType::Undefined;
  WeightKey key;
  std::shared_ptr<const void> data;
};

std::mutex g_mu;
std::vector<CacheEntry> g_cache;  // a few hundred entries at most (one per conv weight of the live models)

const CacheEntry* find_locked(const Tensor& t, const WeightKey& k) {
  for (const CacheEntry& e : g_cache)
    if (e.raw == t.buffer().get() && e.offset == t.byte_offset() && e.dtype == t.dtype() && e.key.m == k.m &&
        e.key.k == k.k && e.key.kind == k.kind && e.buffer.lock() == t.buffer())
      return &e;
  return nullptr;
}

}  // namespace

std::shared_ptr<const void> cached_weights(const KernelContext& ctx, const Tensor& w_tensor, const WeightKey& key,
                                           const std::function<std::shared_ptr<const void>()>& make) {
  const Value* wv = ctx.node().input(1);
  const bool constant = wv && wv->is_constant() && w_tensor.buffer() && wv->constant.buffer() == w_tensor.buffer() &&
                        wv->constant.byte_offset() == w_tensor.byte_offset();
  if (!constant) return make();
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (const CacheEntry* e = find_locked(w_tensor, key)) return e->data;
  }
  // Made outside the lock (other convs of another thread may look up meanwhile); a second thread that
  // made the same copy keeps the first.
  std::shared_ptr<const void> data = make();
  std::lock_guard<std::mutex> lock(g_mu);
  if (const CacheEntry* e = find_locked(w_tensor, key)) return e->data;
  std::vector<CacheEntry> live;
  for (CacheEntry& e : g_cache)
    if (!e.buffer.expired()) live.push_back(std::move(e));
  g_cache.swap(live);
  CacheEntry n;
  n.buffer = w_tensor.buffer();
  n.raw = w_tensor.buffer().get();
  n.offset = w_tensor.byte_offset();
  n.dtype = w_tensor.dtype();
  n.key = key;
  n.data = data;
  g_cache.push_back(std::move(n));
  return data;
}

}  // namespace r1::cpu
