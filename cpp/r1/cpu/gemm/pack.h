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
//   int8: ceil(K/4) rows of 48 quads     (element (k, j) at panel[(k/4) * 192 + 4j + k%4], int8; zero
//         rows pad K to a multiple of 4) - the s8 operand of VNNI's vpdpbusd. Before the panels, two
//         arrays of 48 * panels entries: float column scales (w = q * scale, symmetric per output
//         channel: scale = max|w| / 127) and int32 column sums of q (the compensation for A's zero point).
//   int8 2:4: int8 weights with at most two nonzeros in every aligned group of four along K (pruned by
//         r1.sparsify, or sparse as they came), stored compressed (pack_s8_sparse.cc): the same column
//         scales and sums, then ceil(K/8) blocks of 240 bytes per panel: 48 x 4 values (column j's two
//         nonzeros of each of the block's two groups at 4j) and 48 index bytes (2 bits per value: its
//         position in its group). 5/8 of the dense int8 bytes.
//   int4: group-wise weights (precision "int4": weight-only quantization for bandwidth-bound products), groups
//         of kS4Group along K per column, q = clamp(rint(w / s), -7, 7) with s = max|w| / 7 of the group, stored
//         as the nibble q + 8 (pack_s4.cc). Before the panels: float scales [groups][48 * panels] and int32
//         sums of q [groups][48 * panels]. A panel: per group 16 blocks of 192 bytes, block p covering K rows
//         [8p, 8p + 8) of the group: byte 64v + 4c + e holds column 16v + c's K row 8p + e in its low nibble
//         and row 8p + 4 + e in its high nibble (two vpdpbusd operands after a mask and a shift).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "r1/core/tensor.h"
#include "r1/core/thread_pool.h"

namespace r1::cpu::gemm {

// S8S24 is precision "int8" too: a node at precision int8 reads either int8 layout (the header says which).
enum class PackedLayout : uint32_t { F32 = 1, BF16 = 2, S8 = 3, S8S24 = 4, S4 = 5 };
constexpr size_t kPackedHeaderBytes = 64;
constexpr int64_t kS4Group = 128;  // weights per int4 scale along K (GPTQ's and AWQ's usual g128)

// "fp32" -> F32, "bf16" -> BF16, "int8" -> S8, "int4" -> S4; anything else is a ModelError naming the value.
PackedLayout layout_for_precision(const std::string& precision);

// A validated view of a packed blob.
struct PackedB {
  PackedLayout layout = PackedLayout::F32;
  int64_t k = 0, n = 0;
  const void* panels = nullptr;      // panel 0
  int64_t panel_stride = 0;          // elements (float or uint16) between panels
  int64_t ldb = 0;                   // elements between K steps (fp32), pairs (bf16) or quads (int8) in a panel
  const float* col_scale = nullptr;  // int8: per column (48 * panels entries, zero past N); int4: per group too
  const int32_t* col_sum = nullptr;  // int8: sum over K of each column's q; int4: over each group
};

// Bytes of a blob holding a K x N operand in `layout`, header included.
size_t packed_bytes(int64_t k, int64_t n, PackedLayout layout);

// Packs op(B) (B fp32 [K, N] row-major with leading dimension ldb, or [N, K] when trans_b) into
// `blob` (packed_bytes() bytes), writing the header too. Parallel over panels when pool is given.
void pack_into(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, PackedLayout layout, void* blob,
               ThreadPool* pool);

// Packs a 2-D float tensor (fp32/fp16/bf16) into a fresh 1-D uint8 tensor (64-byte aligned).
// precision: "fp32", "bf16", "int8" (quantized per column, see above; stored 2:4 compressed when the
// quantized weights are 2:4 sparse and compress_2to4 allows it: a host without the sparse kernel packs dense)
// or "int4".
Tensor pack_weights(const Tensor& b, bool trans_b, const std::string& precision, bool compress_2to4 = true);

// Checks a blob against the node's attrs (k, n, layout from precision): ModelError when the
// header is missing, from another layout or shape, or the blob is truncated. expected S8 accepts S8S24.
PackedB packed_view(const Tensor& blob, int64_t k, int64_t n, PackedLayout expected);
PackedB packed_view(const void* blob, size_t bytes, int64_t k, int64_t n, PackedLayout expected);

// Writes the 64-byte header of a blob holding a K x N operand in `layout` (pack_s8.cc packs exact int8).
void write_packed_header(void* blob, int64_t k, int64_t n, PackedLayout layout);

// Packs int8 B (row-major [K, N] with leading dimension ldb, or [N, K] when trans_b) as it is: column
// scales 1, for the exact integer products of MatMulInteger. `blob` holds packed_bytes(k, n, S8).
void pack_s8_exact(const int8_t* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* blob);
// The int8 panels and column data of a float B, quantized per column (pack_into calls it for S8).
void pack_s8_quantized(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* data, ThreadPool* pool);
// Bytes of the column scales and sums in front of the int8 panels.
size_t s8_column_bytes(int64_t n);
// The int4 panels and group data of a float B (pack_into calls it for S4).
void pack_s4_quantized(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, void* data, ThreadPool* pool);
// Panel p of an S4 view dequantized to fp32 K x 48 (unpack_panel_f32 calls it).
void unpack_s4_panel_f32(const PackedB& v, int64_t p, float* dst);

// An S8 blob (dense int8) whose every column has at most two nonzeros in each aligned group of four along K,
// repacked as S8S24 (compressed); an empty tensor when some group holds more (pack_s8_sparse.cc).
Tensor compress_s8_2to4(const Tensor& s8_blob, int64_t k, int64_t n);
// The inverse: an S8S24 blob as a dense S8 one (for a host without the sparse kernel).
Tensor decompress_s8_2to4(const Tensor& blob, int64_t k, int64_t n);
// Dense int8 panel rows [2 * blocks][48][4] (the S8 panel layout) from `blocks` blocks of an S8S24 panel.
void expand_s8_2to4_panel(const int8_t* sparse, int64_t blocks, int8_t* dense);

// The layout a blob's header names; ModelError when it is no packed blob of this engine version.
PackedLayout packed_layout(const Tensor& blob);

// The inverse of pack_weights: a packed K x N operand back to a plain fp32 [K, N] tensor (bf16 panels
// give their bf16 values). For targets whose kernels read plain B (CPUs without AVX-512).
Tensor unpack_weights(const Tensor& blob, int64_t k, int64_t n);

// Panel `p` of a packed view as fp32 K x 48 (ldb 48) into dst: bf16 weights on a CPU without
// AVX512-BF16, or for the OpenBLAS fallback; int8 weights dequantized (q * scale).
void unpack_panel_f32(const PackedB& v, int64_t p, float* dst);

}  // namespace r1::cpu::gemm
