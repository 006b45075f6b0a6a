#include "r1/cpu/gemm/prepack.h"

#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/pack.h"

namespace r1::cpu::gemm {
namespace {

// Replaces n's B with `blob` (memoised per source value and layout key) and sets the attrs that say
// how to read it.
void use_b(Node& n, PrepackContext& ctx, const std::string& key, Value* source, Tensor (*make)(const Value*, Node&),
           bool packed, int64_t k, int64_t cols) {
  Value*& blob = ctx.done[{source, key}];
  if (!blob) blob = ctx.graph.add_constant(ctx.graph.unique_name(source->name + "_" + key), make(source, n));
  ctx.graph.set_input(&n, 1, blob);
  n.attrs.set("packed_b", Attribute::make_int(packed ? 1 : 0));
  if (packed) {
    n.attrs.set("k", Attribute::make_int(k));
    n.attrs.set("n", Attribute::make_int(cols));
  }
  n.attrs.set("trans_b", Attribute::make_int(0));
  // Right away, not at the end: the peak then holds one copy of a weight, not all of them. A mapped
  // .r1 weight nobody reads any more gives its resident pages back.
  if (source->consumers.empty() && source->constant.buffer())
    source->constant.buffer()->drop_resident_pages(source->constant.byte_offset(), source->constant.nbytes());
}

Tensor pack_plain(const Value* w, Node& n) {
  return pack_weights(w->constant, n.attrs.get_int("trans_b", 0) != 0, n.attrs.get_string("precision", "fp32"));
}

Tensor repack(const Value* w, Node& n) {
  const Tensor plain = unpack_weights(w->constant, n.attrs.get_int("k", -1), n.attrs.get_int("n", -1));
  return pack_weights(plain, false, n.attrs.get_string("precision", "fp32"));
}

// 2:4 int8 weights on a host without the sparse kernel: expanding them on every call would cost more than
// the dense kernel saves, so they are expanded once here.
Tensor decompress(const Value* w, Node& n) {
  return decompress_s8_2to4(w->constant, n.attrs.get_int("k", -1), n.attrs.get_int("n", -1));
}
Tensor pack_dense_s8(const Value* w, Node& n) {
  return pack_weights(w->constant, n.attrs.get_int("trans_b", 0) != 0, "int8", /*compress_2to4=*/false);
}

Tensor unpack(const Value* w, Node& n) {
  return unpack_weights(w->constant, n.attrs.get_int("k", -1), n.attrs.get_int("n", -1));
}

}  // namespace

bool prepack_fused_matmul(Node& n, PrepackContext& ctx) {
  Value* w = n.inputs.size() > 1 ? n.inputs[1] : nullptr;
  if (!w || !w->is_constant()) return false;
  const bool packed = n.attrs.get_int("packed_b", 0) != 0;
  const std::string precision = n.attrs.get_string("precision", "fp32");
  // int8 and int4 weights are packed for every target: the portable kernels read the same panels.
  if (!ctx.target.has_avx512_kernels() && precision != "int8" && precision != "int4") {
    // The OpenBLAS path: a plain B is read as it is; a packed one (compiled for an AVX-512 CPU) is
    // unpacked once here instead of panel by panel on every call.
    if (!packed) return false;
    use_b(n, ctx, "unpacked", w, unpack, false, 0, 0);
    return true;
  }
  // At load on a host without the 2:4 kernel, int8 weights are held dense.
  const bool dense_s8 = precision == "int8" && ctx.at_load && !s8_sparse_kernel_available();
  if (packed) {
    const PackedLayout have = packed_layout(w->constant);
    if (have == PackedLayout::S8S24 && precision == "int8") {
      if (!dense_s8) return false;
      use_b(n, ctx, "dense_int8", w, decompress, true, n.attrs.get_int("k", -1), n.attrs.get_int("n", -1));
      return true;
    }
    if (have == layout_for_precision(precision)) {
      // Reading the header faulted in a whole large folio of a mapped weight (up to 2 MiB): give it back, so a
      // load that only checks layouts does not fill memory (a streaming engine never reads weights through
      // the mapping; a resident one maps them again, from the page cache, on its first run).
      if (w->constant.buffer())
        w->constant.buffer()->drop_resident_pages(w->constant.byte_offset(), w->constant.nbytes());
      return false;
    }
    const int64_t k = n.attrs.get_int("k", -1), cols = n.attrs.get_int("n", -1);
    use_b(n, ctx, "packed_" + precision, w, repack, true, k, cols);
    return true;
  }
  if (w->constant.rank() != 2 || !is_float(w->constant.dtype())) return false;
  const bool trans_b = n.attrs.get_int("trans_b", 0) != 0;
  const int64_t k = trans_b ? w->constant.dim(1) : w->constant.dim(0);
  const int64_t cols = trans_b ? w->constant.dim(0) : w->constant.dim(1);
  use_b(n, ctx, std::string("packed_") + precision + (trans_b ? "_t" : ""), w, dense_s8 ? pack_dense_s8 : pack_plain,
        true, k, cols);
  return true;
}

}  // namespace r1::cpu::gemm
