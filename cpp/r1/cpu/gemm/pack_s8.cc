// The int8 panel layout of pack.h: per-column symmetric quantization of a float B (weights of
// precision="int8"), or an int8 B taken as it is (MatMulInteger's exact products).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "r1/core/int8_grid.h"
#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kQuad = 4 * kNR;  // bytes of one K quad of a panel

int64_t panels_of(int64_t n) { return (n + kNR - 1) / kNR; }

// Where column data and panels sit in the blob's data region.
struct S8Parts {
  float* scale;
  int32_t* sum;
  int8_t* panels;
  int64_t panel_bytes;
};

S8Parts parts(void* data, int64_t k, int64_t n) {
  const int64_t npad = panels_of(n) * kNR;
  char* d = static_cast<char*>(data);
  return {reinterpret_cast<float*>(d), reinterpret_cast<int32_t*>(d + npad * sizeof(float)),
          reinterpret_cast<int8_t*>(d + s8_column_bytes(n)), (k + 3) / 4 * kQuad};
}

// Element (kk, j) of op(B).
template <class T>
T at(const T* b, int64_t ldb, bool trans_b, int64_t kk, int64_t j) {
  return trans_b ? b[j * ldb + kk] : b[kk * ldb + j];
}

// Packs columns [j0, j0 + 48) given q(kk, j) for j < n (zero past n and past k), with their sums.
template <class Q>
void pack_panel(int64_t k, int64_t n, int64_t j0, Q q, int8_t* panel, int32_t* sum) {
  const int64_t kq = (k + 3) / 4;
  std::memset(panel, 0, static_cast<size_t>(kq * kQuad));
  for (int64_t j = 0; j < kNR; ++j) {
    int32_t s = 0;
    if (j0 + j < n)
      for (int64_t kk = 0; kk < k; ++kk) {
        const int8_t v = q(kk, j0 + j);
        panel[(kk / 4) * kQuad + 4 * j + kk % 4] = v;
        s += v;
      }
    sum[j] = s;
  }
}

}  // namespace

void pack_s8_quantized(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* data, ThreadPool* pool) {
  const S8Parts p = parts(data, k, n);
  // Weights already on one int8 grid for the whole tensor (a model quantized per tensor, imported) keep
  // their integers: per-column scales would move them to finer grids of their own.
  const float tensor_max =
      std::max(0.f, int8_grid_max(k * n, [&](int64_t i) { return at(b, ldb, trans_b, i / n, i % n); }));
  auto run = [&](int64_t p0, int64_t p1) {
    std::vector<float> inv(kNR);
    for (int64_t q = p0; q < p1; ++q) {
      const int64_t j0 = q * kNR;
      for (int64_t j = 0; j < kNR; ++j) {
        float amax = tensor_max;
        if (j0 + j < n && tensor_max == 0.f)
          for (int64_t kk = 0; kk < k; ++kk) amax = std::max(amax, std::fabs(at(b, ldb, trans_b, kk, j0 + j)));
        if (j0 + j >= n) amax = 0.f;
        // Symmetric, [-127, 127]: -128 would make the range lopsided for no gain in accuracy.
        p.scale[j0 + j] = amax / 127.f;
        inv[j] = amax > 0.f ? 127.f / amax : 0.f;
      }
      auto quant = [&](int64_t kk, int64_t j) {
        const float v = std::nearbyint(at(b, ldb, trans_b, kk, j) * inv[j - j0]);
        return static_cast<int8_t>(std::min(127.f, std::max(-127.f, v)));
      };
      pack_panel(k, n, j0, quant, p.panels + q * p.panel_bytes, p.sum + j0);
    }
  };
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, k * kNR));
  if (pool)
    pool->parallel_for(0, panels_of(n), grain, run);
  else
    run(0, panels_of(n));
}

void pack_s8_exact(const int8_t* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* blob) {
  write_packed_header(blob, k, n, PackedLayout::S8);
  void* data = static_cast<char*>(blob) + kPackedHeaderBytes;
  const S8Parts p = parts(data, k, n);
  for (int64_t q = 0; q < panels_of(n); ++q) {
    for (int64_t j = 0; j < kNR; ++j) p.scale[q * kNR + j] = 1.f;
    pack_panel(
        k, n, q * kNR, [&](int64_t kk, int64_t j) { return at(b, ldb, trans_b, kk, j); }, p.panels + q * p.panel_bytes,
        p.sum + q * kNR);
  }
}

}  // namespace r1::cpu::gemm
