// The int4 group-wise layout of pack.h (S4): weight-only quantization for products whose speed is the weights'
// bytes (a language model's decode step reads every weight once per token). Per column and per group of
// kS4Group weights along K: q = clamp(rint(w / s), -8, 7) with the scale s that minimises the group's squared
// error among a few clippings of max|w| / 7 (round-to-nearest at s = max|w| / 7 wastes levels on one outlier;
// clipping it trades that weight's error for every other one's), stored as the nibble q + 8 (0..15, 8 for
// zero and for K's padding). The kernel (gemm_s4*.cc) reads a nibble as an unsigned byte operand of
// vpdpbusd and takes 8 x (the group's sum of A) back off, so no sign extension is needed.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kBlockBytes = 4 * kNR;  // 8 K rows x 48 columns, two nibbles a byte

int64_t groups_of(int64_t k) { return (k + kS4Group - 1) / kS4Group; }
int64_t panels_of(int64_t n) { return (n + kNR - 1) / kNR; }

template <class T>
T at(const T* b, int64_t ldb, bool trans_b, int64_t kk, int64_t j) {
  return trans_b ? b[j * ldb + kk] : b[kk * ldb + j];
}

// Byte and nibble of K row r (within its group) of panel column j, from the group's first block.
int64_t byte_of(int64_t r, int64_t j) { return (r / 8) * kBlockBytes + (j / 16) * 64 + (j % 16) * 4 + r % 4; }
int shift_of(int64_t r) { return (r % 8) >= 4 ? 4 : 0; }

int quantize4(float w, float inv) { return static_cast<int>(std::min(7.f, std::max(-8.f, std::nearbyint(w * inv)))); }

// The scale of column col's weights in K rows [k0, k1) with the least squared error, among max|w| / 7 times
// 1, 0.95, ..., 0.65.
float best_scale(const float* b, int64_t ldb, bool trans_b, int64_t k0, int64_t k1, int64_t col) {
  float amax = 0.f;
  for (int64_t kk = k0; kk < k1; ++kk) amax = std::max(amax, std::fabs(at(b, ldb, trans_b, kk, col)));
  if (!(amax > 0.f)) return 0.f;
  float best = amax / 7.f, best_err = -1.f;
  for (int step = 0; step < 8; ++step) {
    const float s = amax * (1.f - 0.05f * static_cast<float>(step)) / 7.f, inv = 1.f / s;
    float err = 0.f;
    for (int64_t kk = k0; kk < k1; ++kk) {
      const float w = at(b, ldb, trans_b, kk, col), d = w - static_cast<float>(quantize4(w, inv)) * s;
      err += d * d;
    }
    if (best_err < 0.f || err < best_err) best = s, best_err = err;
  }
  return best;
}

}  // namespace

void pack_s4_quantized(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* data, ThreadPool* pool) {
  const int64_t groups = groups_of(k), panels = panels_of(n), npad = panels * kNR;
  float* scale = static_cast<float*>(data);
  int32_t* sum = reinterpret_cast<int32_t*>(scale + groups * npad);
  uint8_t* panel0 = reinterpret_cast<uint8_t*>(sum + groups * npad);
  const int64_t panel_bytes = groups * (kS4Group / 8) * kBlockBytes;
  auto run = [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint8_t* panel = panel0 + p * panel_bytes;
      std::memset(panel, 0x88, static_cast<size_t>(panel_bytes));  // q = 0 everywhere (padding included)
      for (int64_t j = 0; j < kNR; ++j) {
        const int64_t col = p * kNR + j;
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t k0 = g * kS4Group, k1 = std::min(k, k0 + kS4Group);
          const float sc = col < n ? best_scale(b, ldb, trans_b, k0, k1, col) : 0.f;
          scale[g * npad + col] = sc;
          const float inv = sc > 0.f ? 1.f / sc : 0.f;
          int32_t s = 0;
          uint8_t* blocks = panel + g * (kS4Group / 8) * kBlockBytes;
          for (int64_t kk = k0; col < n && kk < k1; ++kk) {
            const int q = quantize4(at(b, ldb, trans_b, kk, col), inv);
            s += q;
            const int64_t r = kk - k0;
            uint8_t& byte = blocks[byte_of(r, j)];
            const int sh = shift_of(r);
            byte = static_cast<uint8_t>((byte & ~(0xF << sh)) | ((q + 8) << sh));
          }
          sum[g * npad + col] = s;
        }
      }
    }
  };
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, k * kNR));
  if (pool)
    pool->parallel_for(0, panels, grain, run);
  else
    run(0, panels);
}

void unpack_s4_panel_f32(const PackedB& v, int64_t p, float* dst) {
  const int64_t npad = panels_of(v.n) * kNR;
  const uint8_t* panel = static_cast<const uint8_t*>(v.panels) + p * v.panel_stride;
  for (int64_t kk = 0; kk < v.k; ++kk) {
    const int64_t g = kk / kS4Group, r = kk % kS4Group;
    const uint8_t* blocks = panel + g * (kS4Group / 8) * kBlockBytes;
    for (int64_t j = 0; j < kNR; ++j) {
      const int q = ((blocks[byte_of(r, j)] >> shift_of(r)) & 0xF) - 8;
      dst[kk * kNR + j] = static_cast<float>(q) * v.col_scale[g * npad + p * kNR + j];
    }
  }
}

}  // namespace r1::cpu::gemm
