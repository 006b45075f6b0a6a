// bf16 copies of conv weights for precision="bf16" (conv_forward_bf16 reads them): W itself, or the
// Winograd transform U = G g G^T of it (conv_bf16_winograd.cc).
//
// Converting the weights on every call would re-read all of them in fp32 each inference (ResNet-50:
// ~100 MB) and pay the conversion again; instead the copy of a graph constant is made on its first
// call and kept while the constant's buffer lives. The key is the buffer and the byte offset, checked
// through a weak_ptr: a buffer that was freed cannot match a new one at the same address, so a stale
// copy is never used; entries of freed buffers are dropped on the next insertion.
#include <algorithm>
#include <mutex>
#include <vector>

#include "r1/core/buffer.h"
#include "r1/cpu/kernels/conv_kernels.h"

namespace r1::cpu {
namespace {

struct CacheEntry {
  std::weak_ptr<Buffer> buffer;
  const Buffer* raw = nullptr;  // identity while `buffer` is alive
  size_t offset = 0;
  DType dtype = DType::Undefined;
  int64_t m = 0, k = 0;
  bool winograd = false;
  std::shared_ptr<const std::vector<uint16_t>> data;
};

std::mutex g_mu;
std::vector<CacheEntry> g_cache;  // a few hundred entries at most (one per conv weight of the live models)

// Row stride of the bf16 copy: K rounded up to 32 (the inner-product tile reads 32 k at a time) plus
// 32, so rows are never a multiple of 4 KB apart (that would map the rows of a tile to the same L1 sets).
int64_t bf16_ld(int64_t k) { return (k + 31) / 32 * 32 + 32; }

// m rows of k values (row stride k) to bf16 rows of stride bf16_ld(k).
std::shared_ptr<const std::vector<uint16_t>> to_bf16(const float* w, int64_t m, int64_t k, ThreadPool& pool) {
  int64_t ld = bf16_ld(k);
  auto out = std::make_shared<std::vector<uint16_t>>(static_cast<size_t>(m * ld));
  uint16_t* d = out->data();
  pool.parallel_for(0, m, std::max<int64_t>(1, 4096 / ld), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) conv_avx512::to_bf16_row(w + i * k, k, ld, d + i * ld);
  });
  return out;
}

std::shared_ptr<const std::vector<uint16_t>> convert(const float* w, int64_t m, int64_t k, bool winograd,
                                                     ThreadPool& pool) {
  if (!winograd) return to_bf16(w, m, k, pool);
  // U[xi][m][c] in fp32 (w is [m][c][3][3], k = c), then its 16 * m rows in bf16.
  const int64_t pairs = m * k;
  std::vector<float> u(static_cast<size_t>(16 * pairs));
  pool.parallel_for(0, (pairs + 15) / 16, 64, [&](int64_t b, int64_t e) {
    conv_avx512::wino_weights(w, b * 16, std::min(pairs, e * 16), pairs, u.data());
  });
  return to_bf16(u.data(), 16 * m, k, pool);
}

const CacheEntry* find_locked(const Tensor& t, int64_t m, int64_t k, bool winograd) {
  for (const CacheEntry& e : g_cache)
    if (e.raw == t.buffer().get() && e.offset == t.byte_offset() && e.dtype == t.dtype() && e.m == m && e.k == k &&
        e.winograd == winograd && e.buffer.lock() == t.buffer())
      return &e;
  return nullptr;
}

}  // namespace

ConvWeightsBf16 conv_weights_bf16(const KernelContext& ctx, const Tensor& w_tensor, const float* w, int64_t M,
                                  int64_t K, bool winograd, ThreadPool& pool) {
  ConvWeightsBf16 r;
  r.ld = bf16_ld(K);
  // Only a graph constant is known not to change between calls (a graph input may hold new values).
  const Value* wv = ctx.node().input(1);
  bool constant = wv && wv->is_constant() && w_tensor.buffer() && wv->constant.buffer() == w_tensor.buffer() &&
                  wv->constant.byte_offset() == w_tensor.byte_offset();
  if (!constant) {
    r.hold = convert(w, M, K, winograd, pool);
    r.p = r.hold->data();
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (const CacheEntry* e = find_locked(w_tensor, M, K, winograd)) {
      r.hold = e->data;
      r.p = r.hold->data();
      return r;
    }
  }
  // Converted outside the lock (other convs of another thread may look up meanwhile); a second thread
  // that converted the same weight keeps the first copy.
  auto data = convert(w, M, K, winograd, pool);
  std::lock_guard<std::mutex> lock(g_mu);
  if (const CacheEntry* e = find_locked(w_tensor, M, K, winograd)) {
    r.hold = e->data;
  } else {
    std::vector<CacheEntry> live;
    for (CacheEntry& e : g_cache)
      if (!e.buffer.expired()) live.push_back(std::move(e));
    g_cache.swap(live);
    CacheEntry n;
    n.buffer = w_tensor.buffer();
    n.raw = w_tensor.buffer().get();
    n.offset = w_tensor.byte_offset();
    n.dtype = w_tensor.dtype();
    n.m = M;
    n.k = K;
    n.winograd = winograd;
    n.data = data;
    g_cache.push_back(std::move(n));
    r.hold = std::move(data);
  }
  r.p = r.hold->data();
  return r;
}

}  // namespace r1::cpu
