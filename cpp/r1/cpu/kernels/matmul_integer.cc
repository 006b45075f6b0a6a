// CPU kernel of MatMulInteger: A and B (int8 / uint8) minus their zero points as int32, then the
// integer batched products of gemm/batched_matmul.h. The common case of quantized models (uint8 A
// with one zero point, a 2-D int8 B whose zero point is 0) runs on the int8 GEMM (gemm_s8.h: VNNI
// where present), exact like the reference.
#include <algorithm>
#include <vector>

#include "r1/cpu/gemm/batched_matmul.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// A[...] - zero_point broadcast (numpy rules) as int32; a 1-D zero point of A is per row.
std::vector<int32_t> dequant_int32(const Tensor& x, const Tensor* zp, bool zp_per_row) {
  std::vector<int32_t> out(static_cast<size_t>(x.numel()));
  auto load = [](const Tensor& t, int64_t i) -> int32_t {
    return t.dtype() == DType::Int8 ? static_cast<int32_t>(t.data<int8_t>()[i])
                                    : static_cast<int32_t>(t.data<uint8_t>()[i]);
  };
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = load(x, i);
  if (!zp || zp->numel() == 0) return out;
  if (zp->numel() == 1) {
    int32_t z = load(*zp, 0);
    for (auto& v : out) v -= z;
    return out;
  }
  Shape zs = zp->shape();
  if (zp_per_row && zs.size() == 1) zs.push_back(1);
  Shape xs = x.shape();
  if (xs.size() == 1) xs.insert(xs.begin(), 1);
  R1_CHECK(broadcast_shapes(xs, zs) == xs, InputError)
      << "MatMulInteger: zero point of shape " << shape_str(zp->shape()) << " does not fit input "
      << shape_str(x.shape());
  BroadcastMap m(xs, {xs, zs});
  std::vector<int64_t> offs(2);
  const auto& steps = m.steps();
  for (int64_t r = 0; r < m.rows(); ++r) {
    m.row_offsets(r, offs.data());
    for (int64_t j = 0; j < m.row_len(); ++j) out[offs[0] + j * steps[0]] -= load(*zp, offs[1] + j * steps[1]);
  }
  return out;
}

bool all_zero(const Tensor& zp) {
  const std::vector<int64_t> v = zp.to_int64_vector();
  for (int64_t z : v)
    if (z != 0) return false;
  return true;
}

// uint8 A [..., K] with a scalar zero point, int8 B [K, N] with zero points 0: the int8 GEMM.
bool gemm_case(const KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != DType::UInt8 || b.dtype() != DType::Int8 || a.rank() < 1 || b.rank() != 2) return false;
  if (a.shape().back() != b.shape()[0] || b.shape()[0] == 0 || b.shape()[0] > gemm::kMaxS8Depth) return false;
  if (ctx.has_input(2) && ctx.input(2).numel() > 1) return false;
  return !ctx.has_input(3) || ctx.input(3).numel() == 0 || all_zero(ctx.input(3));
}

void matmul_integer_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  if (gemm_case(ctx)) {
    const int64_t K = b.shape()[0], N = b.shape()[1], M = a.numel() / std::max<int64_t>(K, 1);
    const int32_t za = ctx.has_input(2) && ctx.input(2).numel() == 1 ? ctx.input(2).data<uint8_t>()[0] : 0;
    std::vector<uint8_t> blob(gemm::packed_bytes(K, N, gemm::PackedLayout::S8));
    gemm::pack_s8_exact(b.data<int8_t>(), N, false, K, N, blob.data());
    const gemm::PackedB view = gemm::packed_view(blob.data(), blob.size(), K, N, gemm::PackedLayout::S8);
    gemm::gemm_u8s8_s32(M, N, K, a.data<uint8_t>(), K, za, view, y.data<int32_t>(), N, ctx.pool());
    return;
  }
  MatMulPlan p = plan_matmul(a.shape(), b.shape());
  std::vector<int32_t> A = dequant_int32(a, ctx.has_input(2) ? &ctx.input(2) : nullptr, true);
  std::vector<int32_t> B = dequant_int32(b, ctx.has_input(3) ? &ctx.input(3) : nullptr, false);
  matmul_int<int32_t>(p, A.data(), B.data(), y.data<int32_t>(), ctx.pool());
}

}  // namespace

void register_matmul_integer_kernels(KernelTable& t) { t.add("MatMulInteger", matmul_integer_kernel); }
}  // namespace r1::cpu
