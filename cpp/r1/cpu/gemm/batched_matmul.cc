// The batched products of a numpy matmul (batched_matmul.h).
#include "r1/cpu/gemm/batched_matmul.h"

#include "r1/core/error.h"
#include "r1/cpu/gemm/gemm.h"

namespace r1::cpu {
namespace {

// Runs fn(b, inner_pool) for every batch: whole products per task when there are enough of them
// (inner_pool == nullptr: compute serially), otherwise one product at a time split across the pool.
template <class F>
void for_batches(ThreadPool& pool, int64_t batch, int64_t per_work, F&& fn) {
  const int nt = pool.num_threads();
  if (nt <= 1 || batch * per_work < kGemmParallelWork) {
    for (int64_t b = 0; b < batch; ++b) fn(b, nullptr);
    return;
  }
  if (batch > 1 && (per_work < 4 * kGemmParallelWork || batch >= 4 * nt || batch % nt == 0)) {
    int64_t grain = std::max<int64_t>(1, kGemmParallelWork / std::max<int64_t>(per_work, 1));
    grain = std::min(grain, (batch + nt - 1) / nt);
    pool.parallel_for(0, batch, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) fn(b, nullptr);
    });
    return;
  }
  for (int64_t b = 0; b < batch; ++b) fn(b, &pool);
}

}  // namespace

MatMulPlan plan_matmul(const Shape& a0, const Shape& b0) {
  Shape a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulPlan p;
  p.M = a[a.size() - 2];
  p.K = a.back();
  p.N = b.back();
  R1_CHECK(b[b.size() - 2] == p.K, InputError)
      << "MatMul: inner dimensions differ (" << shape_str(a0) << " x " << shape_str(b0) << ")";
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  int64_t na = numel(ab), nb = numel(bb);
  if (nb == 1) {
    // B shared by every batch: fold A's batch into M (A is contiguous, so its rows stack).
    p.M *= na;
    p.a_off = {0};
    p.b_off = {0};
    return p;
  }
  Shape ob = broadcast_shapes(ab, bb);
  int r = static_cast<int>(ob.size());
  p.batch = numel(ob);
  // Broadcast strides (in matrices) of A's and B's batch dims over the output batch.
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  int64_t st = 1;
  for (int i = static_cast<int>(ab.size()) - 1, o = r - 1; i >= 0; --i, --o) {
    sa[o] = ab[i] == 1 ? 0 : st;
    st *= ab[i];
  }
  st = 1;
  for (int i = static_cast<int>(bb.size()) - 1, o = r - 1; i >= 0; --i, --o) {
    sb[o] = bb[i] == 1 ? 0 : st;
    st *= bb[i];
  }
  p.a_off.resize(p.batch);
  p.b_off.resize(p.batch);
  for (int64_t i = 0; i < p.batch; ++i) {
    int64_t rem = i, oa = 0, obb = 0;
    for (int d = r - 1; d >= 0; --d) {
      int64_t idx = rem % ob[d];
      rem /= ob[d];
      oa += idx * sa[d];
      obb += idx * sb[d];
    }
    p.a_off[i] = oa * p.M * p.K;
    p.b_off[i] = obb * p.K * p.N;
  }
  return p;
}

void matmul_f32(const MatMulPlan& p, const float* A, const float* B, float* C, ThreadPool& pool) {
  // One B for every row: our AVX-512 kernels beat OpenBLAS from M = 2 up (M = 1 stays a GEMV).
  if (p.batch == 1 && p.M >= 2 && gemm::fast_gemm_available()) {
    gemm::GemmB b;
    b.f32 = B;
    b.ld = p.N;
    gemm::fused_gemm(p.M, p.N, p.K, A, p.K, b, gemm::PackedLayout::F32, C, p.N, gemm::Epilogue{}, pool);
    return;
  }
  const int64_t per = p.M * p.N * std::max<int64_t>(p.K, 1);
  for_batches(pool, p.batch, per, [&](int64_t b, ThreadPool* inner) {
    const float* a = A + p.a_off[b];
    const float* bb = B + p.b_off[b];
    float* c = C + b * p.M * p.N;
    if (inner)
      sgemm(false, false, p.M, p.N, p.K, 1.f, a, p.K, bb, p.N, 0.f, c, p.N, *inner);
    else
      sgemm_serial(false, false, p.M, p.N, p.K, 1.f, a, p.K, bb, p.N, 0.f, c, p.N);
  });
}

}  // namespace r1::cpu
