// cuSPARSELt r1::FusedMatMul (see cusparselt_spmm.h). In column-major terms Y^T [N, M] = W^T [N, K] x X^T [K, M]:
// the weight is cuSPARSELt's structured matrix A (2:4 along K, the reduction dimension, as the hardware wants), the
// activations the dense B, and our row-major Y is the column-major D. W [K, N] row-major is W^T [N, K] column-major
// (op N); a trans_b weight [N, K] row-major is [K, N] column-major (op T).
#include "cusparselt_spmm.h"

#include <cuda_runtime_api.h>
#include <cusparseLt.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "../common.cuh"  // DeviceScope, PerDevice (host code: the runtime API only)
#include "r1/backend/device.h"
#include "r1/backend/kernel.h"
#include "r1/core/tensor.h"
#include "r1/ir/graph.h"

namespace r1::cusparselt {
namespace {

KernelFn g_prev_fused = nullptr;  // the kernel wrapped, written by _core's registry
std::atomic<uint64_t> g_sparse{0}, g_fallback{0}, g_sparse_w{0}, g_dense_w{0};

bool ok(cusparseStatus_t s) { return s == CUSPARSE_STATUS_SUCCESS; }

// One weight on one device: its 2:4 verdict and, when sparse, its compressed copy (kept for the process).
struct Weight {
  enum { Unknown, Sparse, Dense } state = Unknown;
  cusparseLtMatDescriptor_t desc{};
  cusparseOperation_t op = CUSPARSE_OPERATION_NON_TRANSPOSE;
  void* compressed = nullptr;
};

struct Plan {
  bool ok = false;
  cusparseLtMatDescriptor_t b{}, c{};
  cusparseLtMatmulDescriptor_t mm{};
  cusparseLtMatmulAlgSelection_t alg{};
  cusparseLtMatmulPlan_t plan{};
  size_t workspace = 0;
};

// (weight pointer, rows, bias pointer, relu)
using PlanKey = std::tuple<const void*, int64_t, const void*, bool>;

struct DeviceState {
  std::mutex mu;
  bool init = false, broken = false;
  cusparseLtHandle_t handle{};
  std::map<const void*, Weight> weights;
  std::map<PlanKey, Plan> plans;
};

gpu::PerDevice<DeviceState> g_states;

// The node's shape of the problem, when cuSPARSELt covers it.
struct Problem {
  cudaDataType type = CUDA_R_16F;
  bool trans_b = false, relu = false;
  int64_t M = 0, N = 0, K = 0;
  const void *a = nullptr, *w = nullptr, *bias = nullptr;
  void* y = nullptr;
};

bool covered(KernelContext& ctx, Problem& p) {
  const AttributeMap& at = ctx.attrs();
  if (at.get_int("packed_b", 0) != 0 || at.get_float("alpha", 1.f) != 1.f) return false;
  const std::string act = at.get_string("activation", "");
  if (!act.empty() && act != "Relu") return false;
  p.relu = act == "Relu";
  if (!ctx.has_input(0) || !ctx.has_input(1)) return false;
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) return false;  // a residual
  const Node& n = ctx.node();
  if (n.inputs.size() < 2 || !n.inputs[1] || !n.inputs[1]->is_constant()) return false;  // weights only
  const Tensor& a = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (a.dtype() != w.dtype() || (a.dtype() != DType::Float16 && a.dtype() != DType::BFloat16)) return false;
  if (a.rank() < 1 || w.rank() != 2) return false;
  p.type = a.dtype() == DType::Float16 ? CUDA_R_16F : CUDA_R_16BF;
  p.trans_b = at.get_int("trans_b", 0) != 0;
  p.K = a.shape().back();
  p.M = a.numel() / (p.K > 0 ? p.K : 1);
  p.N = p.trans_b ? w.shape()[0] : w.shape()[1];
  if ((p.trans_b ? w.shape()[1] : w.shape()[0]) != p.K || p.M <= 0 || p.N <= 0 || p.K <= 0) return false;
  Tensor& y = ctx.output(0);
  if (y.dtype() != a.dtype() || y.numel() != p.M * p.N) return false;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    const Tensor& bias = ctx.input(2);
    if (bias.dtype() != a.dtype() || bias.numel() != p.N) return false;
    p.bias = bias.raw();
  }
  p.a = a.raw();
  p.w = w.raw();
  p.y = y.raw();
  return true;
}

// The weight's verdict, checking and compressing it on its first use (synchronises the stream once).
Weight& weight(DeviceState& s, KernelContext& ctx, const Problem& p, cudaStream_t stream) {
  Weight& wt = s.weights[p.w];
  if (wt.state != Weight::Unknown) return wt;
  wt.state = Weight::Dense;
  // W^T [N, K] column-major (op N), or a trans_b weight as [K, N] column-major (op T).
  const int64_t rows = p.trans_b ? p.K : p.N, cols = p.trans_b ? p.N : p.K;
  wt.op = p.trans_b ? CUSPARSE_OPERATION_TRANSPOSE : CUSPARSE_OPERATION_NON_TRANSPOSE;
  if (!ok(cusparseLtStructuredDescriptorInit(&s.handle, &wt.desc, rows, cols, rows, 16, p.type, CUSPARSE_ORDER_COL,
                                             CUSPARSELT_SPARSITY_50_PERCENT))) {
    g_dense_w.fetch_add(1);
    return wt;  // a shape the sparse tensor cores do not take
  }
  std::shared_ptr<Buffer> valid = ctx.allocator().allocate(sizeof(int));
  int host_valid = 1;
  if (!ok(cusparseLtSpMMAPruneCheck2(&s.handle, &wt.desc, 1, wt.op, p.w, static_cast<int*>(valid->data()), stream)) ||
      cudaMemcpyAsync(&host_valid, valid->data(), sizeof(int), cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
      cudaStreamSynchronize(stream) != cudaSuccess || host_valid != 0) {  // 0: the pattern is 2:4
    g_dense_w.fetch_add(1);
    return wt;
  }
  size_t size = 0, buffer = 0;
  void* scratch = nullptr;
  const bool done = ok(cusparseLtSpMMACompressedSize2(&s.handle, &wt.desc, &size, &buffer)) &&
                    cudaMalloc(&wt.compressed, size) == cudaSuccess &&
                    (buffer == 0 || cudaMalloc(&scratch, buffer) == cudaSuccess) &&
                    ok(cusparseLtSpMMACompress2(&s.handle, &wt.desc, 1, wt.op, p.w, wt.compressed, scratch, stream)) &&
                    cudaStreamSynchronize(stream) == cudaSuccess;
  if (scratch) cudaFree(scratch);
  if (!done) {
    if (wt.compressed) cudaFree(wt.compressed);
    wt.compressed = nullptr;
    g_dense_w.fetch_add(1);
    return wt;
  }
  wt.state = Weight::Sparse;
  g_sparse_w.fetch_add(1);
  return wt;
}

Plan& plan(DeviceState& s, const Weight& wt, const Problem& p) {
  Plan& pl = s.plans[PlanKey{p.w, p.M, p.bias, p.relu}];
  if (pl.ok) return pl;
  const int one = 1;
  pl.ok = ok(cusparseLtDenseDescriptorInit(&s.handle, &pl.b, p.K, p.M, p.K, 16, p.type, CUSPARSE_ORDER_COL)) &&
          ok(cusparseLtDenseDescriptorInit(&s.handle, &pl.c, p.N, p.M, p.N, 16, p.type, CUSPARSE_ORDER_COL)) &&
          ok(cusparseLtMatmulDescriptorInit(&s.handle, &pl.mm, wt.op, CUSPARSE_OPERATION_NON_TRANSPOSE, &wt.desc, &pl.b,
                                            &pl.c, &pl.c, CUSPARSE_COMPUTE_32F)) &&
          (!p.relu || ok(cusparseLtMatmulDescSetAttribute(&s.handle, &pl.mm, CUSPARSELT_MATMUL_ACTIVATION_RELU, &one,
                                                          sizeof one))) &&
          (!p.bias || ok(cusparseLtMatmulDescSetAttribute(&s.handle, &pl.mm, CUSPARSELT_MATMUL_BIAS_POINTER, &p.bias,
                                                          sizeof p.bias))) &&
          ok(cusparseLtMatmulAlgSelectionInit(&s.handle, &pl.alg, &pl.mm, CUSPARSELT_MATMUL_ALG_DEFAULT)) &&
          ok(cusparseLtMatmulPlanInit(&s.handle, &pl.plan, &pl.mm, &pl.alg)) &&
          ok(cusparseLtMatmulGetWorkspace(&s.handle, &pl.plan, &pl.workspace));
  return pl;
}

bool try_sparse(KernelContext& ctx) {
  Problem p;
  if (!covered(ctx, p)) return false;
  const int device = ctx.allocator().device_index();
  void* native = ctx.allocator().native_stream();
  if (device < 0 || native == nullptr) return false;
  cudaStream_t stream = static_cast<cudaStream_t>(native);
  DeviceState& s = g_states.get(device);
  gpu::DeviceScope scope(device);  // cuSPARSELt runs on the current device
  std::lock_guard<std::mutex> lk(s.mu);
  if (!s.init) {
    if (s.broken) return false;
    s.broken = !ok(cusparseLtInit(&s.handle));
    s.init = !s.broken;
    if (s.broken) return false;
  }
  Weight& wt = weight(s, ctx, p, stream);
  if (wt.state != Weight::Sparse) return false;
  Plan& pl = plan(s, wt, p);
  if (!pl.ok) return false;
  std::shared_ptr<Buffer> workspace;  // stream-ordered: freed after the matmul has run
  if (pl.workspace > 0) workspace = ctx.allocator().allocate(pl.workspace);
  const float alpha = 1.f, beta = 0.f;
  const cusparseStatus_t st = cusparseLtMatmul(&s.handle, &pl.plan, &alpha, wt.compressed, p.a, &beta, p.y, p.y,
                                               workspace ? workspace->data() : nullptr, &stream, 1);
  if (st == CUSPARSE_STATUS_NOT_SUPPORTED || st == CUSPARSE_STATUS_ARCH_MISMATCH) return false;
  R1_CHECK(ok(st), DeviceError) << "cuda:" << device << ": cuSPARSELt matmul of [" << p.M << ", " << p.K << "] x 2:4 ["
                                << p.K << ", " << p.N << "] failed: " << cusparseLtGetErrorString(st);
  g_sparse.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void fused_matmul(KernelContext& ctx) {
  if (try_sparse(ctx)) return;
  R1_CHECK(g_prev_fused != nullptr && g_prev_fused != &fused_matmul, DeviceError)
      << "FusedMatMul: no CUDA kernel to fall back to for a node cuSPARSELt does not cover";
  g_fallback.fetch_add(1, std::memory_order_relaxed);
  g_prev_fused(ctx);
}

}  // namespace

void register_kernels(const r1_backend_hook* hook) {
  check_backend_hook(hook);
  static std::mutex mu;
  static bool done = false;  // a second registration would make our kernel its own fallback
  std::lock_guard<std::mutex> lk(mu);
  if (done) return;
  char err[512] = {0};
  R1_CHECK(
      hook->add_kernel("cuda", "FusedMatMul", "r1", &fused_matmul, 0, nullptr, &g_prev_fused, err, sizeof err) == 0,
      DeviceError)
      << "deepseek_r1._cusparselt: cannot register FusedMatMul on the CUDA backend: " << err;
  done = true;
}

Stats stats() {
  Stats s;
  s.sparse_calls = g_sparse.load();
  s.fallback_calls = g_fallback.load();
  s.sparse_weights = g_sparse_w.load();
  s.dense_weights = g_dense_w.load();
  return s;
}

void reset_stats() {
  g_sparse.store(0);
  g_fallback.store(0);
}

}  // namespace r1::cusparselt
