// bf16 copies of conv weights for precision="bf16" (conv_forward_bf16 reads them): W itself, or the
// Winograd transform U = G g G^T of it (conv_bf16_winograd.cc), made once per constant
// (weight_cache.h).
#include <algorithm>
#include <vector>

#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/weight_cache.h"

namespace r1::cpu {
namespace {

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

}  // namespace

ConvWeightsBf16 conv_weights_bf16(const KernelContext& ctx, const Tensor& w_tensor, const float* w, int64_t M,
                                  int64_t K, bool winograd, ThreadPool& pool) {
  ConvWeightsBf16 r;
  r.ld = bf16_ld(K);
  const WeightKey key{M, K, winograd ? kBf16Winograd : kBf16Rows};
  r.hold = std::static_pointer_cast<const std::vector<uint16_t>>(cached_weights(
      ctx, w_tensor, key, [&]() -> std::shared_ptr<const void> { return convert(w, M, K, winograd, pool); }));
  r.p = r.hold->data();
  return r;
}

}  // namespace r1::cpu
