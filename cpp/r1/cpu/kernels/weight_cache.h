// Derived copies of a kernel's constant weight (input 1): a conv's bf16 rows, their Winograd transform, its
// int8 rows; FusedMatMul's dense copy of a 2:4 weight. Made once per graph constant and kept while the
// constant's buffer lives.
//
//   auto blob = cached_weights(ctx, w_tensor, {M, K, kind}, [&] { return make_copy(); });
//
// Converting the weights on every call would re-read all of them in fp32 each inference (ResNet-50:
// ~100 MB) and pay the conversion again. The key is the buffer, the byte offset, the dtype and the
// caller's (m, k, kind), checked through a weak_ptr: a buffer that was freed cannot match a new one at the
// same address, so a stale copy is never used; entries of freed buffers are dropped on the next insertion.
// A weight that is not a graph constant (a graph input may hold new values) is converted on every call.
#pragma once
#include <functional>
#include <memory>

#include "r1/backend/kernel.h"

namespace r1::cpu {

// The derived layouts (WeightKey::kind).
enum WeightKind : int { kBf16Rows, kBf16Winograd, kConvS8FromFloat, kConvS8FromInt8, kDense2to4 };

struct WeightKey {
  int64_t m = 0, k = 0;
  int kind = 0;  // a WeightKind
};

std::shared_ptr<const void> cached_weights(const KernelContext& ctx, const Tensor& w_tensor, const WeightKey& key,
                                           const std::function<std::shared_ptr<const void>()>& make);

}  // namespace r1::cpu
