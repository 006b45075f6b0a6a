// The 2:4 sparse int8 layout of pack.h (S8S24): an S8 blob whose columns keep at most two nonzeros in
// every aligned group of four along K, with only those stored. Block b of a panel covers K rows
// [8b, 8b + 8) (two groups): column j's values at [4j, 4j + 4) (group 0's two, then group 1's two) and
// its index byte at 192 + j, two bits per value giving its position in its group. The sparse kernel
// (gemm_s8_sparse_avx512vbmi.cc) turns the index byte into vpshufb controls that pick the four A bytes
// each column multiplies.
#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/cpu/gemm/kernel_args.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kQuad = 4 * kNR;     // bytes of one dense K quad of a panel
constexpr int64_t kBlock = 5 * kNR;    // bytes of one sparse block (8 K rows) of a panel
constexpr int64_t kIndexAt = 4 * kNR;  // where a block's index bytes start

// Column j's group of four (dense quad q) as at most two (value, position) pairs; false when it holds more.
bool pick_two(const int8_t* quad, int8_t* val, int* pos) {
  int found = 0;
  for (int i = 0; i < 4; ++i)
    if (quad[i] != 0) {
      if (found == 2) return false;
      val[found] = quad[i];
      pos[found++] = i;
    }
  // Fewer than two: the rest are zeros at distinct unused positions (any position works; distinct keeps
  // the expanded panel exact).
  for (int i = 0; found < 2; ++i)
    if (found == 0 || pos[0] != i) {
      val[found] = 0;
      pos[found++] = i;
    }
  return true;
}

}  // namespace

Tensor compress_s8_2to4(const Tensor& s8_blob, int64_t k, int64_t n) {
  const PackedB d = packed_view(s8_blob, k, n, PackedLayout::S8);
  R1_CHECK(d.layout == PackedLayout::S8, InternalError) << "compress_s8_2to4: the blob is compressed already";
  const int64_t panels = (n + kNR - 1) / kNR, kq = (k + 3) / 4, blocks = (k + 7) / 8;
  Tensor out = Tensor::empty(DType::UInt8, {static_cast<int64_t>(packed_bytes(k, n, PackedLayout::S8S24))});
  write_packed_header(out.raw(), k, n, PackedLayout::S8S24);
  char* data = static_cast<char*>(out.raw()) + kPackedHeaderBytes;
  std::memcpy(data, d.col_scale, s8_column_bytes(n));  // scales and sums, as they are
  int8_t* sp = reinterpret_cast<int8_t*>(data + s8_column_bytes(n));
  std::memset(sp, 0, static_cast<size_t>(panels * blocks * kBlock));
  const int8_t zeros[4] = {0, 0, 0, 0};
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* dp = static_cast<const int8_t*>(d.panels) + p * d.panel_stride;
    for (int64_t b = 0; b < blocks; ++b) {
      int8_t* blk = sp + (p * blocks + b) * kBlock;
      for (int64_t j = 0; j < kNR; ++j) {
        uint8_t idx = 0;
        for (int g = 0; g < 2; ++g) {
          const int64_t q = 2 * b + g;  // a K not a multiple of 8 ends on a quad of zeros
          int8_t val[2];
          int pos[2];
          if (!pick_two(q < kq ? dp + q * kQuad + 4 * j : zeros, val, pos)) return Tensor();
          blk[4 * j + 2 * g] = val[0];
          blk[4 * j + 2 * g + 1] = val[1];
          idx = static_cast<uint8_t>(idx | (pos[0] << (4 * g)) | (pos[1] << (4 * g + 2)));
        }
        blk[kIndexAt + j] = static_cast<int8_t>(idx);
      }
    }
  }
  return out;
}

Tensor decompress_s8_2to4(const Tensor& blob, int64_t k, int64_t n) {
  const PackedB s = packed_view(blob, k, n, PackedLayout::S8);
  R1_CHECK(s.layout == PackedLayout::S8S24, InternalError) << "decompress_s8_2to4: the blob is not 2:4 compressed";
  Tensor out = Tensor::empty(DType::UInt8, {static_cast<int64_t>(packed_bytes(k, n, PackedLayout::S8))});
  write_packed_header(out.raw(), k, n, PackedLayout::S8);
  char* data = static_cast<char*>(out.raw()) + kPackedHeaderBytes;
  std::memcpy(data, s.col_scale, s8_column_bytes(n));
  const int64_t panels = (n + kNR - 1) / kNR, kq = (k + 3) / 4, blocks = (k + 7) / 8;
  std::vector<int8_t> dense(static_cast<size_t>(blocks * 2 * kQuad));
  int8_t* dp = reinterpret_cast<int8_t*>(data + s8_column_bytes(n));
  for (int64_t p = 0; p < panels; ++p) {
    expand_s8_2to4_panel(static_cast<const int8_t*>(s.panels) + p * s.panel_stride, blocks, dense.data());
    std::memcpy(dp + p * kq * kQuad, dense.data(), static_cast<size_t>(kq * kQuad));  // drops a padding quad
  }
  return out;
}

void expand_s8_2to4_panel(const int8_t* sparse, int64_t blocks, int8_t* dense) {
  std::memset(dense, 0, static_cast<size_t>(blocks * 2 * kQuad));
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* blk = sparse + b * kBlock;
    int8_t* q0 = dense + 2 * b * kQuad;
    for (int64_t j = 0; j < kNR; ++j) {
      const uint8_t idx = static_cast<uint8_t>(blk[kIndexAt + j]);
      for (int v = 0; v < 4; ++v) {
        const int pos = (idx >> (2 * v)) & 3;
        const int8_t x = blk[4 * j + v];
        if (x != 0) q0[(v / 2) * kQuad + 4 * j + pos] = x;
      }
    }
  }
}

}  // namespace r1::cpu::gemm
