// How the GEMM drivers (fp32/bf16 in gemm.cc, int8 in gemm_s8.cc) cut a product into tasks: row
// blocks of about gemm_mc rows (a block of A stays in L2 while every panel of the task streams past
// it) times groups of 48-column panels of B.
//
//   const Split s = plan_split(M, N, K, pool.num_threads());
//   run_tasks(s, pool, [&](int64_t t) { const Task tk = task_of(s, M, t); /* rows tk.i0.., panels tk.p0.. */ });
#pragma once
#include <algorithm>
#include <cstdint>

#include "r1/core/hw_profile.h"
#include "r1/core/thread_pool.h"
#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/gemm/kernel_args.h"

namespace r1::cpu::gemm {

// About four tasks a thread let a worker that wakes late (tens of microseconds in a VM) take fewer,
// without imbalance.
struct Split {
  int64_t mc = 0, mblocks = 1, panels = 0, groups = 1;
  bool parallel = false;  // worth waking the pool's workers (kGemmParallelWork multiply-adds)
  int64_t tasks() const { return mblocks * groups; }
};

// `work_scale` divides the multiply-adds counted against kGemmParallelWork: an int8 product does
// four per instruction where fp32 does one, so the same M x N x K is worth fewer threads.
inline Split plan_split(int64_t M, int64_t N, int64_t K, int threads, int64_t work_scale = 1) {
  Split s;
  s.panels = (N + kNR - 1) / kNR;
  int64_t mc = std::max<int64_t>(kMR, cpu_tiles().gemm_mc / kMR * kMR);
  s.mblocks = (M + mc - 1) / mc;
  s.mc = (M + s.mblocks - 1) / s.mblocks;
  s.mc = (s.mc + kMR - 1) / kMR * kMR;  // balanced blocks, whole 8-row tiles
  s.mblocks = (M + s.mc - 1) / s.mc;
  s.parallel = threads > 1 && M * N * std::max<int64_t>(K, 1) / work_scale >= kGemmParallelWork;
  if (s.parallel && s.mblocks < 4 * threads) s.groups = std::min(s.panels, (4 * threads + s.mblocks - 1) / s.mblocks);
  return s;
}

// Runs fn(task) for every task, across the pool when the product is big enough.
template <class F>
void run_tasks(const Split& s, ThreadPool& pool, F&& fn) {
  if (!s.parallel || s.tasks() == 1) {
    for (int64_t t = 0; t < s.tasks(); ++t) fn(t);
    return;
  }
  pool.parallel_for(0, s.tasks(), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) fn(t);
  });
}

// Rows [i0, i1) and panels [p0, p1) of task t.
struct Task {
  int64_t i0, i1, p0, p1;
};
inline Task task_of(const Split& s, int64_t M, int64_t t) {
  const int64_t mb = t / s.groups, g = t % s.groups;
  return {mb * s.mc, std::min(M, (mb + 1) * s.mc), g * s.panels / s.groups, (g + 1) * s.panels / s.groups};
}

}  // namespace r1::cpu::gemm
