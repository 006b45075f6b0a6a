// Derived copies of conv weights (bf16 rows, their Winograd transform, int8 rows), made once per graph
// constant and kept while the constant's buffer lives.
//
//   auto blob = cached_conv_weights(ctx, w_tensor, {M, K, kind}, [&] { return make_copy(); });
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

struct ConvWeightKey {
  int64_t m = 0, k = 0;
  int kind = 0;  // the caller's layout (bf16 rows, bf16 Winograd, int8 rows)
};

std::shared_ptr<const void> cached_conv_weights(const KernelContext& ctx, const Tensor& w_tensor,
                                                const ConvWeightKey& key,
                                                const std::function<std::shared_ptr<const void>()>& make);

}  // namespace r1::cpu
