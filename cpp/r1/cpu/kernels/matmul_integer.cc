// CPU kernel of MatMulInteger: A and B (int8 / uint8) minus their zero points as int32, then the
// integer batched products of gemm/batched_matmul.h.
#include <vector>

#include "r1/cpu/gemm/batched_matmul.h"
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

void matmul_integer_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  MatMulPlan p = plan_matmul(a.shape(), b.shape());
  std::vector<int32_t> A = dequant_int32(a, ctx.has_input(2) ? &ctx.input(2) : nullptr, true);
  std::vector<int32_t> B = dequant_int32(b, ctx.has_input(3) ? &ctx.input(3) : nullptr, false);
  matmul_int<int32_t>(p, A.data(), B.data(), y.data<int32_t>(), ctx.pool());
}

}  // namespace

void register_matmul_integer_kernels(KernelTable& t) { t.add("MatMulInteger", matmul_integer_kernel); }
}  // namespace r1::cpu
