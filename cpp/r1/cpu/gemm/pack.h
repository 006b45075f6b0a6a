// Weight pre-packing for r1::FusedMatMul: B is rearranged once (at load, by the weight_prepack
// pass) into the panel layout the GEMM kernels stream, so no call pays for a transpose or a bf16
// conversion of the weights.
//
//   Tensor blob = cpu::gemm::pack_weights(w, /*trans_b=*/true, "bf16");   // uint8[bytes]
//   node attrs: packed_b=1, k=K, n=N, precision="bf16"
//   PackedB v = cpu::gemm::packed_view(blob, K, N, PackedLayout::BF16);    // ModelError on mismatch
//
// Blob = a 64-byte header (magic "R1PACKB", version, layout, k, n, panel width, data bytes) and the
// panels, the first at byte 64 (64-byte aligned whenever the blob is: HostBuffer and .r1 weights).
// Panel p holds columns [48p, 48p + 48) of op(B), zero-padded past N:
//   fp32: K rows of 48 floats            (element (k, j) at panel[k * 48 + j])
//   bf16: ceil(K/2) rows of 48 pairs     (element (k, j) at panel[(k/2) * 96 + 2j + k%2], uint16 bf16
//         bits, round to nearest even; a zero row pads an odd K) - the operand of _mm512_dpbf16_ps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "r1/core/tensor.h"
#include "r1/core/thread_pool.h"

namespace r1::cpu::gemm {

enum class PackedLayout : uint32_t { F32 = 1, BF16 = 2 };

// "fp32" -> F32, "bf16" -> BF16; anything else is a ModelError naming the value.
PackedLayout layout_for_precision(const std::string& precision);

// A validated view of a packed blob.
struct PackedB {
  PackedLayout layout = PackedLayout::F32;
  int64_t k = 0, n = 0;
  const void* panels = nullptr;  // panel 0
  int64_t panel_stride = 0;      // elements (float or uint16) between panels
  int64_t ldb = 0;               // elements between K steps (fp32) or K pairs (bf16) in a panel
};

// Bytes of a blob holding a K x N operand in `layout`, header included.
size_t packed_bytes(int64_t k, int64_t n, PackedLayout layout);

// Packs op(B) (B fp32 [K, N] row-major with leading dimension ldb, or [N, K] when trans_b) into
// `blob` (packed_bytes() bytes), writing the header too. Parallel over panels when pool is given.
void pack_into(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, PackedLayout layout, void* blob,
               ThreadPool* pool);

// Packs a 2-D float tensor (fp32/fp16/bf16) into a fresh 1-D uint8 tensor (64-byte aligned).
// precision: "fp32" or "bf16".
Tensor pack_weights(const Tensor& b, bool trans_b, const std::string& precision);

// Checks a blob against the node's attrs (k, n, layout from precision): ModelError when the
// header is missing, from another layout or shape, or the blob is truncated.
PackedB packed_view(const Tensor& blob, int64_t k, int64_t n, PackedLayout expected);
PackedB packed_view(const void* blob, size_t bytes, int64_t k, int64_t n, PackedLayout expected);

// The layout a blob's header names; ModelError when it is no packed blob of this engine version.
PackedLayout packed_layout(const Tensor& blob);

// The inverse of pack_weights: a packed K x N operand back to a plain fp32 [K, N] tensor (bf16 panels
// give their bf16 values). For targets whose kernels read plain B (CPUs without AVX-512).
Tensor unpack_weights(const Tensor& blob, int64_t k, int64_t n);

// Panel `p` of a packed view as fp32 K x 48 (ldb 48) into dst: bf16 weights on a CPU without
// AVX512-BF16, or for the OpenBLAS fallback.
void unpack_panel_f32(const PackedB& v, int64_t p, float* dst);

}  // namespace r1::cpu::gemm
