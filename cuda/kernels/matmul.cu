// MatMul and Gemm (float32 / float16 / bfloat16) on the one tiled kernel of
// gemm_tile.cuh. Each entry only maps its op onto GemmArgs:
//   MatMul       numpy matmul: 1-D operands promoted (the added dim is absent from Y, whose memory
//                is the same), batch dims broadcast through a walk; a B without batch folds A's batch
//                into M (A's rows stack).
//   Gemm         transA / transB as strides, alpha, beta * C with C unidirectionally broadcast to
//                [M, N] (C is dropped when beta == 0, as on the CPU).
#include <string>
#include <vector>

#include "families.h"
#include "matmul_util.cuh"

namespace r1::gpu {
namespace {

using gemm::Act;
using gemm::broadcast_strides;
using gemm::check_output;
using gemm::dispatch;
using gemm::GemmArgs;
using gemm::GemmPtrs;
using gemm::gpu_float;
using gemm::IndexWalk;
using gemm::merge_walk;
using gemm::one_float_dtype;
using gemm::set_addend;

// ---- MatMul --------------------------------------------------------------------------------------
void matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  R1_CHECK(a.rank() >= 1 && b.rank() >= 1, InputError)
      << "MatMul: operands must be at least 1-D (got rank " << a.rank() << " and " << b.rank() << ")";
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  GemmArgs p;
  p.M = as[as.size() - 2];
  p.K = as.back();
  p.N = bs.back();
  R1_CHECK(bs[bs.size() - 2] == p.K, InputError)
      << "MatMul: inner dimensions differ (" << shape_str(a.shape()) << " x " << shape_str(b.shape()) << ")";
  const Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  const Shape ob = broadcast_shapes(ab, bb);  // InputError when the batch dims do not broadcast
  p.a_rs = p.K;
  p.a_cs = 1;
  p.b_rs = p.N;
  p.b_cs = 1;
  if (numel(bb) == 1) {
    p.M *= numel(ab);  // one B for every batch: A's matrices stack into one
  } else {
    p.batch = numel(ob);
    p.batch_walk = merge_walk(ob, broadcast_strides(ab, ob, p.M * p.K), broadcast_strides(bb, ob, p.K * p.N), "MatMul");
  }
  Tensor& y = ctx.output(0);
  check_output(y, p, "MatMul");
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch(a, "MatMul", [&](auto tag) {
    using T = decltype(tag);
    GemmPtrs<T> q;
    q.a = data_of<T>(a);
    q.b = data_of<T>(b);
    q.y = data_of<T>(y);
    gemm::launch_gemm<T>(p, q, env.stream());
  });
}

// ---- Gemm ----------------------------------------------------------------------------------------
void gemm_op(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  R1_CHECK(a.rank() == 2 && b.rank() == 2, InputError)
      << "Gemm: A and B must be 2-D (got rank " << a.rank() << " and " << b.rank() << ")";
  const AttributeMap& at = ctx.attrs();
  const bool ta = at.get_int("transA", 0) != 0, tb = at.get_int("transB", 0) != 0;
  const float alpha = at.get_float("alpha", 1.f), beta = at.get_float("beta", 1.f);
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  GemmArgs p;
  p.M = ta ? as[1] : as[0];
  p.K = ta ? as[0] : as[1];
  p.N = tb ? bs[0] : bs[1];
  const int64_t kb = tb ? bs[1] : bs[0];
  R1_CHECK(kb == p.K, InputError) << "Gemm: inner dimensions differ (" << shape_str(as) << (ta ? "^T" : "") << " x "
                                  << shape_str(bs) << (tb ? "^T" : "") << ")";
  // A(m, k) is As[m][k], or As[k][m] with transA; likewise B(k, n).
  p.a_rs = ta ? 1 : as[1];
  p.a_cs = ta ? as[1] : 1;
  p.b_rs = tb ? 1 : bs[1];
  p.b_cs = tb ? bs[1] : 1;
  p.alpha = alpha;
  const Tensor* c = ctx.has_input(2) && ctx.input(2).numel() > 0 ? &ctx.input(2) : nullptr;
  if (c) {
    check_same_dtype(ctx, a, *c);
    R1_CHECK(c->rank() <= 2, InputError) << "Gemm: C must have rank <= 2, got " << c->rank();
    set_addend(p, Shape{p.M, p.N}, c->shape(), "Gemm", "C");
    p.add_scale = beta;
    if (beta == 0.f) c = nullptr;  // as on the CPU: 0 * C is dropped, NaN or not
  }
  Tensor& y = ctx.output(0);
  check_output(y, p, "Gemm");
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch(a, "Gemm", [&](auto tag) {
    using T = decltype(tag);
    GemmPtrs<T> q;
    q.a = data_of<T>(a);
    q.b = data_of<T>(b);
    q.add = c ? data_of<T>(*c) : nullptr;
    q.y = data_of<T>(y);
    gemm::launch_gemm<T>(p, q, env.stream());
  });
}

}  // namespace

void register_matmul_kernels(KernelTable& t) {
  t.add("MatMul", matmul, "", 0, one_float_dtype);
  t.add("Gemm", gemm_op, "", 0, one_float_dtype);
}
}  // namespace r1::gpu
