// Weight packing for the GEMM kernels (layout: pack.h).
#include "r1/cpu/gemm/pack.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/core/half.h"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {
namespace {

constexpr char kMagic[8] = {'R', '1', 'P', 'A', 'C', 'K', 'B', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = kPackedHeaderBytes;

// The blob's first 64 bytes. Fixed-width fields, little-endian (the engine's hosts are x86-64 and
// aarch64, both little-endian).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t layout;
  int64_t k, n;
  uint32_t nr;
  uint32_t header_bytes;
  uint64_t data_bytes;
  uint8_t reserved[16];
};
static_assert(sizeof(Header) == kHeaderBytes, "packed-B header must stay 64 bytes");

int64_t num_panels(int64_t n) { return (n + kNR - 1) / kNR; }
bool is_int8(PackedLayout l) { return l == PackedLayout::S8 || l == PackedLayout::S8S24; }
int64_t s4_groups(int64_t k) { return (k + kS4Group - 1) / kS4Group; }
int64_t k_rows(int64_t k, PackedLayout l) {
  switch (l) {
    case PackedLayout::BF16:
      return (k + 1) / 2;
    case PackedLayout::S8:
      return (k + 3) / 4;
    case PackedLayout::S8S24:
      return (k + 7) / 8;
    case PackedLayout::S4:
      return s4_groups(k) * kS4Group / 8;
    default:
      return k;
  }
}
int64_t row_elems(PackedLayout l) {
  return l == PackedLayout::BF16    ? 2 * kNR
         : l == PackedLayout::S8    ? 4 * kNR
         : l == PackedLayout::S8S24 ? 5 * kNR
         : l == PackedLayout::S4    ? 4 * kNR
                                    : kNR;
}
size_t elem_bytes(PackedLayout l) { return l == PackedLayout::BF16 ? 2 : is_int8(l) || l == PackedLayout::S4 ? 1 : 4; }
// The column scales and sums that precede int8 panels (int4: one of each per group).
size_t column_bytes(int64_t k, int64_t n, PackedLayout l) {
  if (l == PackedLayout::S4) return static_cast<size_t>(s4_groups(k)) * s8_column_bytes(n);
  return is_int8(l) ? s8_column_bytes(n) : 0;
}
int64_t panel_elems(int64_t k, PackedLayout l) { return k_rows(k, l) * row_elems(l); }

const char* layout_name(uint32_t l) {
  return l == static_cast<uint32_t>(PackedLayout::F32)     ? "fp32"
         : l == static_cast<uint32_t>(PackedLayout::BF16)  ? "bf16"
         : l == static_cast<uint32_t>(PackedLayout::S8)    ? "int8"
         : l == static_cast<uint32_t>(PackedLayout::S8S24) ? "int8 2:4"
         : l == static_cast<uint32_t>(PackedLayout::S4)    ? "int4"
                                                           : "unknown";
}

// Columns [j0, j0 + 48) of op(B) as fp32 K x 48, zero past N. Row copies for B [K, N]; for
// B [N, K] each column of the panel is a contiguous row of B.
void gather_panel_f32(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t j0, float* d) {
  const int64_t nr = std::min<int64_t>(kNR, n - j0);
  if (nr < kNR) std::fill(d, d + k * kNR, 0.f);
  if (!trans_b) {
    for (int64_t kk = 0; kk < k; ++kk) std::memcpy(d + kk * kNR, b + kk * ldb + j0, static_cast<size_t>(nr) * 4);
    return;
  }
  for (int64_t j = 0; j < nr; ++j) {
    const float* s = b + (j0 + j) * ldb;
    for (int64_t kk = 0; kk < k; ++kk) d[kk * kNR + j] = s[kk];
  }
}

void pack_panel(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t j0, PackedLayout layout,
                void* dst, std::vector<float>& tmp) {
  if (layout == PackedLayout::F32) {
    gather_panel_f32(b, ldb, trans_b, k, n, j0, static_cast<float*>(dst));
    return;
  }
  tmp.resize(static_cast<size_t>((k + 1) * kNR));
  float* f = tmp.data();
  gather_panel_f32(b, ldb, trans_b, k, n, j0, f);
  std::fill(f + k * kNR, f + (k + 1) * kNR, 0.f);  // the zero row that pads an odd K
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (int64_t kp = 0; kp < (k + 1) / 2; ++kp)
    for (int64_t j = 0; j < kNR; ++j) {
      d[kp * 2 * kNR + 2 * j] = float_to_bf16_bits(f[2 * kp * kNR + j]);
      d[kp * 2 * kNR + 2 * j + 1] = float_to_bf16_bits(f[(2 * kp + 1) * kNR + j]);
    }
}

}  // namespace

PackedLayout layout_for_precision(const std::string& precision) {
  if (precision == "fp32") return PackedLayout::F32;
  if (precision == "bf16") return PackedLayout::BF16;
  if (precision == "int8") return PackedLayout::S8;
  if (precision == "int4") return PackedLayout::S4;
  R1_THROW(ModelError) << "FusedMatMul: precision must be \"fp32\", \"bf16\", \"int8\" or \"int4\", got \"" << precision
                       << "\"";
}

size_t packed_bytes(int64_t k, int64_t n, PackedLayout layout) {
  R1_CHECK(k >= 0 && n >= 0, InputError) << "pack_weights: negative shape (k=" << k << ", n=" << n << ")";
  uint64_t bytes = 0;
  Shape s = {num_panels(n), panel_elems(k, layout)};
  R1_CHECK(checked_nbytes(s, elem_bytes(layout), &bytes), InputError)
      << "pack_weights: a " << k << " x " << n << " weight is too large to pack";
  return kHeaderBytes + column_bytes(k, n, layout) + static_cast<size_t>(bytes);
}

size_t s8_column_bytes(int64_t n) { return static_cast<size_t>(num_panels(n) * kNR) * (sizeof(float) + 4); }

void write_packed_header(void* blob, int64_t k, int64_t n, PackedLayout layout) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.layout = static_cast<uint32_t>(layout);
  h.k = k;
  h.n = n;
  h.nr = static_cast<uint32_t>(kNR);
  h.header_bytes = static_cast<uint32_t>(kHeaderBytes);
  h.data_bytes = packed_bytes(k, n, layout) - kHeaderBytes;
  std::memcpy(blob, &h, sizeof(h));
}

void pack_into(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, PackedLayout layout, void* blob,
               ThreadPool* pool) {
  write_packed_header(blob, k, n, layout);
  char* data = static_cast<char*>(blob) + kHeaderBytes;
  if (layout == PackedLayout::S8) {
    pack_s8_quantized(b, ldb, trans_b, k, n, data, pool);
    return;
  }
  if (layout == PackedLayout::S4) {
    pack_s4_quantized(b, ldb, trans_b, k, n, data, pool);
    return;
  }
  const size_t panel_bytes = static_cast<size_t>(panel_elems(k, layout)) * elem_bytes(layout);
  auto run = [&](int64_t p0, int64_t p1) {
    std::vector<float> tmp;
    for (int64_t p = p0; p < p1; ++p) pack_panel(b, ldb, trans_b, k, n, p * kNR, layout, data + p * panel_bytes, tmp);
  };
  // A panel is K x 48 elements: a few panels per task keep a worker busy for a while.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, k * kNR));
  if (pool)
    pool->parallel_for(0, num_panels(n), grain, run);
  else
    run(0, num_panels(n));
}

Tensor pack_weights(const Tensor& b, bool trans_b, const std::string& precision, bool compress_2to4) {
  PackedLayout layout = layout_for_precision(precision);
  R1_CHECK(b.rank() == 2, InputError) << "pack_weights: B must be 2-D, got " << b.describe();
  R1_CHECK(is_float(b.dtype()), InputError) << "pack_weights: B must be a float tensor, got " << b.describe();
  const int64_t k = trans_b ? b.shape()[1] : b.shape()[0];
  const int64_t n = trans_b ? b.shape()[0] : b.shape()[1];
  std::vector<float> staged;
  const float* src = nullptr;
  if (b.dtype() == DType::Float32) {
    src = b.data<float>();
  } else {
    staged.resize(static_cast<size_t>(b.numel()));
    dispatch_float(b.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* s = b.data<T>();
      for (int64_t i = 0; i < b.numel(); ++i) staged[i] = static_cast<float>(s[i]);
    });
    src = staged.data();
  }
  const size_t bytes = packed_bytes(k, n, layout);
  Tensor out = Tensor::empty(DType::UInt8, {static_cast<int64_t>(bytes)});
  pack_into(src, b.shape()[1], trans_b, k, n, layout, out.raw(), nullptr);
  // Compressed only where it is smaller: K > 4 (a single quad of K takes 192 bytes a panel dense, 240 sparse).
  if (compress_2to4 && layout == PackedLayout::S8 && packed_bytes(k, n, PackedLayout::S8S24) < bytes) {
    Tensor sparse = compress_s8_2to4(out, k, n);
    if (sparse.numel() > 0) return sparse;
  }
  return out;
}

PackedB packed_view(const Tensor& blob, int64_t k, int64_t n, PackedLayout expected) {
  R1_CHECK(blob.dtype() == DType::UInt8 && blob.rank() == 1, ModelError)
      << "FusedMatMul: a packed B (packed_b=1) must be a 1-D uint8 blob, got " << blob.describe();
  return packed_view(blob.raw(), blob.nbytes(), k, n, expected);
}

PackedB packed_view(const void* blob, size_t bytes, int64_t k, int64_t n, PackedLayout expected) {
  R1_CHECK(bytes >= kHeaderBytes, ModelError)
      << "FusedMatMul: packed B of " << bytes << " bytes is too short to hold its header";
  Header h;
  std::memcpy(&h, blob, sizeof(h));
  R1_CHECK(std::memcmp(h.magic, kMagic, sizeof(kMagic)) == 0 && h.version == kVersion &&
               h.header_bytes == kHeaderBytes && h.nr == static_cast<uint32_t>(kNR),
           ModelError)
      << "FusedMatMul: B is not a packed weight blob of this engine version (bad magic/version/panel width)";
  if (expected == PackedLayout::S8 && h.layout == static_cast<uint32_t>(PackedLayout::S8S24))
    expected = PackedLayout::S8S24;  // both are precision int8
  R1_CHECK(h.layout == static_cast<uint32_t>(expected), ModelError)
      << "FusedMatMul: packed B holds " << layout_name(h.layout) << " panels but the node's precision is "
      << layout_name(static_cast<uint32_t>(expected)) << " (re-pack the weight)";
  R1_CHECK(h.k == k && h.n == n, ModelError)
      << "FusedMatMul: packed B is " << h.k << " x " << h.n << " but the node's attrs say k=" << k << ", n=" << n;
  const size_t need = packed_bytes(k, n, expected);
  R1_CHECK(h.data_bytes + kHeaderBytes == need && bytes >= need, ModelError)
      << "FusedMatMul: packed B blob is truncated (" << bytes << " bytes, need " << need << ")";
  PackedB v;
  v.layout = expected;
  v.k = k;
  v.n = n;
  const char* data = static_cast<const char*>(blob) + kHeaderBytes;
  if (is_int8(expected) || expected == PackedLayout::S4) {
    const int64_t groups = expected == PackedLayout::S4 ? s4_groups(k) : 1;
    v.col_scale = reinterpret_cast<const float*>(data);
    v.col_sum = reinterpret_cast<const int32_t*>(data + groups * num_panels(n) * kNR * sizeof(float));
  }
  v.panels = data + column_bytes(k, n, expected);
  v.panel_stride = panel_elems(k, expected);
  v.ldb = row_elems(expected);
  return v;
}

PackedLayout packed_layout(const Tensor& blob) {
  R1_CHECK(blob.dtype() == DType::UInt8 && blob.rank() == 1 && blob.nbytes() >= kHeaderBytes, ModelError)
      << "FusedMatMul: a packed B must be a 1-D uint8 blob with a header, got " << blob.describe();
  Header h;
  std::memcpy(&h, blob.raw(), sizeof(h));
  R1_CHECK(std::memcmp(h.magic, kMagic, sizeof(kMagic)) == 0 && h.version == kVersion, ModelError)
      << "FusedMatMul: B is not a packed weight blob of this engine version";
  R1_CHECK(h.layout >= static_cast<uint32_t>(PackedLayout::F32) && h.layout <= static_cast<uint32_t>(PackedLayout::S4),
           ModelError)
      << "FusedMatMul: packed B has an unknown layout " << h.layout;
  return static_cast<PackedLayout>(h.layout);
}

Tensor unpack_weights(const Tensor& blob, int64_t k, int64_t n) {
  const PackedB v = packed_view(blob, k, n, packed_layout(blob));
  Tensor out = Tensor::empty(DType::Float32, {k, n});
  float* d = out.data<float>();
  std::vector<float> panel(static_cast<size_t>(k * kNR));
  for (int64_t p = 0; p < num_panels(n); ++p) {
    unpack_panel_f32(v, p, panel.data());
    const int64_t j0 = p * kNR, nr = std::min<int64_t>(kNR, n - j0);
    for (int64_t kk = 0; kk < k; ++kk)
      std::memcpy(d + kk * n + j0, panel.data() + kk * kNR, static_cast<size_t>(nr) * sizeof(float));
  }
  return out;
}

void unpack_panel_f32(const PackedB& v, int64_t p, float* dst) {
  if (v.layout == PackedLayout::F32) {
    std::memcpy(dst, static_cast<const float*>(v.panels) + p * v.panel_stride,
                static_cast<size_t>(v.k * kNR) * sizeof(float));
    return;
  }
  if (v.layout == PackedLayout::S4) {
    unpack_s4_panel_f32(v, p, dst);
    return;
  }
  std::vector<int8_t> expanded;
  if (v.layout == PackedLayout::S8S24) {
    expanded.resize(static_cast<size_t>((v.k + 7) / 8 * 8 * kNR));
    expand_s8_2to4_panel(static_cast<const int8_t*>(v.panels) + p * v.panel_stride, (v.k + 7) / 8, expanded.data());
  }
  if (is_int8(v.layout)) {
    const int8_t* s =
        v.layout == PackedLayout::S8S24 ? expanded.data() : static_cast<const int8_t*>(v.panels) + p * v.panel_stride;
    const float* scale = v.col_scale + p * kNR;
    for (int64_t kk = 0; kk < v.k; ++kk)
      for (int64_t j = 0; j < kNR; ++j) dst[kk * kNR + j] = s[(kk / 4) * 4 * kNR + 4 * j + kk % 4] * scale[j];
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(v.panels) + p * v.panel_stride;
  for (int64_t kk = 0; kk < v.k; ++kk)
    for (int64_t j = 0; j < kNR; ++j) dst[kk * kNR + j] = bf16_bits_to_float(s[(kk / 2) * 2 * kNR + 2 * j + kk % 2]);
}

}  // namespace r1::cpu::gemm
