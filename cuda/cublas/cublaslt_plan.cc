// cuBLASLt matmuls for _cublas (cublaslt_plan.h; cublaslt_gemm.h says what is covered).
//
// Row-major to cuBLAS's column-major: a row-major [R, C] matrix is the column-major [C, R] one with
// the same leading dimension, so Y = op(A) @ op(B) is computed as Y^T = op(B)^T @ op(A)^T: cuBLAS's
// "A" is our B, its "B" our A, and its D (rows N, cols M, ld N) is Y as stored. Bias vectors then run
// along D's rows, which is what CUBLASLT_EPILOGUE_BIAS wants (length = D rows = N).
//
// One cuBLASLt handle per device, and per device a small LRU of plans (matmul descriptor, four
// layouts, the heuristic's algorithm and workspace size) keyed by everything the heuristic saw,
// pointer alignments included. A plan for which no algorithm exists is cached too, and sends its
// nodes to the replaced kernel. The device's mutex covers the plan from lookup to launch (the bias
// pointer lives in the shared descriptor); cublasLtMatmul only enqueues.
//
// CUDA only (cuBLASLt has no HIP build here), so the runtime API is used directly, not vendor.h.
#include "cublaslt_plan.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <array>
#include <atomic>
#include <climits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "../common.cuh"  // DeviceScope, PerDevice (host code: the runtime API only)
#include "cublaslt_gemm.h"
#include "r1/backend/device.h"
#include "r1/backend/kernel.h"
#include "r1/core/buffer.h"
#include "r1/core/shape.h"
#include "r1/core/tensor.h"

namespace r1::cublas {
namespace {

constexpr uint64_t kMaxWorkspace = 32ull << 20;  // bytes the heuristic may ask for
constexpr size_t kPlansPerDevice = 64;

std::atomic<bool> g_tf32{false};
std::atomic<uint64_t> g_cublas_calls{0}, g_fallback_calls{0};

// The largest power of two (up to 256) dividing the address: what cuBLASLt may assume of it.
int64_t alignment(const void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  int64_t a = 256;
  while (a > 1 && v % static_cast<uintptr_t>(a) != 0) a >>= 1;
  return a;
}

using Key = std::array<int64_t, 19>;

Key key_of(const Problem& p, bool tf32) {
  return {static_cast<int64_t>(p.dtype),
          p.dtype == DType::Float32 && tf32,
          p.trans_a,
          p.trans_b,
          p.M,
          p.N,
          p.K,
          p.batch,
          p.stride_a,
          p.stride_b,
          p.stride_y,
          p.c != nullptr,
          p.bias != nullptr,
          static_cast<int64_t>(p.epi),
          alignment(p.a),
          alignment(p.b),
          alignment(p.c ? p.c : p.y),
          alignment(p.y),
          p.bias ? alignment(p.bias) : 0};
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::Float16:
      return CUDA_R_16F;
    case DType::BFloat16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

bool ok(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; }

template <class V>
bool set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const V& v) {
  return ok(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof v));
}
template <class V>
bool set_layout(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, const V& v) {
  return ok(cublasLtMatrixLayoutSetAttribute(l, attr, &v, sizeof v));
}
template <class V>
bool set_pref(cublasLtMatmulPreference_t pr, cublasLtMatmulPreferenceAttributes_t attr, const V& v) {
  return ok(cublasLtMatmulPreferenceSetAttribute(pr, attr, &v, sizeof v));
}

// A column-major rows x cols matrix with leading dimension ld, strided over `batch` matrices.
bool make_layout(cublasLtMatrixLayout_t* l, cudaDataType_t t, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                 int64_t stride) {
  if (!ok(cublasLtMatrixLayoutCreate(l, t, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld))) {
    *l = nullptr;
    return false;
  }
  if (batch == 1) return true;
  return set_layout(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch)) &&
         set_layout(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, static_cast<int64_t>(stride));
}

struct Plan {
  bool ok = false;  // false: cuBLASLt offers nothing for this problem (the replaced kernel runs it)
  cublasLtMatmulDesc_t desc = nullptr;
  // cuBLAS's A (our B), B (our A), C (nullptr without one: D stands in) and D (Y).
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr, ld = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {  // host-side objects: safe to drop while a matmul that used them is still queued
    for (cublasLtMatrixLayout_t l : {la, lb, lc, ld})
      if (l) cublasLtMatrixLayoutDestroy(l);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

std::unique_ptr<Plan> make_plan(cublasLtHandle_t handle, const Problem& p, bool tf32) {
  auto plan = std::make_unique<Plan>();
  const cudaDataType_t t = cuda_type(p.dtype);
  const cublasComputeType_t compute =
      p.dtype == DType::Float32 && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  if (!ok(cublasLtMatmulDescCreate(&plan->desc, compute, CUDA_R_32F))) {
    plan->desc = nullptr;
    return plan;
  }
  const int32_t op_a = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLAS's A is our B
  const int32_t op_b = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  uint32_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  if (p.epi == Epi::Relu)
    epi = p.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  else if (p.epi == Epi::GeluTanh)
    epi = p.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  else if (p.bias)
    epi = CUBLASLT_EPILOGUE_BIAS;
  if (!set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, op_a) ||
      !set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, op_b) ||
      !set_desc(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epi))
    return plan;
  // The heuristic reads the bias pointer's alignment (the value is set again on every call).
  if (p.bias && !set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias)) return plan;

  // Stored matrices as column-major: B is [K, N] row-major = N x K (ld N), or [N, K] = K x N (ld K)
  // transposed by op_a; A is [M, K] = K x M (ld K), or [K, M] = M x K (ld M) transposed by op_b.
  const int64_t M = p.M, N = p.N, K = p.K;
  if (!make_layout(&plan->la, t, p.trans_b ? K : N, p.trans_b ? N : K, p.trans_b ? K : N, p.batch, p.stride_b) ||
      !make_layout(&plan->lb, t, p.trans_a ? M : K, p.trans_a ? K : M, p.trans_a ? M : K, p.batch, p.stride_a) ||
      !make_layout(&plan->ld, t, N, M, N, p.batch, p.stride_y) ||
      (p.c && !make_layout(&plan->lc, t, N, M, N, p.batch, p.stride_y)))
    return plan;

  cublasLtMatmulPreference_t pref = nullptr;
  if (!ok(cublasLtMatmulPreferenceCreate(&pref))) return plan;
  const bool prefs_set =
      set_pref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, kMaxWorkspace) &&
      set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(alignment(p.b))) &&
      set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(alignment(p.a))) &&
      set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(alignment(p.c ? p.c : p.y))) &&
      set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(alignment(p.y)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (prefs_set &&
      ok(cublasLtMatmulAlgoGetHeuristic(handle, plan->desc, plan->la, plan->lb, plan->lc ? plan->lc : plan->ld,
                                        plan->ld, pref, 1, &result, &found)) &&
      found > 0 && ok(result.state) && result.workspaceSize <= kMaxWorkspace) {
    plan->algo = result.algo;
    plan->workspace = result.workspaceSize;
    plan->ok = true;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  return plan;
}

struct DeviceState {
  std::mutex mu;
  cublasLtHandle_t handle = nullptr;
  bool broken = false;  // cublasLtCreate failed: every node goes to the replaced kernel
  std::list<std::pair<Key, std::unique_ptr<Plan>>> plans;  // most recently used first
  std::map<Key, std::list<std::pair<Key, std::unique_ptr<Plan>>>::iterator> index;

  // Call with mu held.
  Plan& plan(const Problem& p, bool tf32) {
    const Key k = key_of(p, tf32);
    auto it = index.find(k);
    if (it != index.end()) {
      plans.splice(plans.begin(), plans, it->second);
      return *plans.front().second;
    }
    plans.emplace_front(k, make_plan(handle, p, tf32));
    index[k] = plans.begin();
    if (plans.size() > kPlansPerDevice) {
      index.erase(plans.back().first);
      plans.pop_back();
    }
    return *plans.front().second;
  }
};

gpu::PerDevice<DeviceState> g_states;

}  // namespace

// Enqueues the matmul on the kernel stream; false (nothing enqueued) when cuBLASLt cannot run it.
bool run(KernelContext& ctx, const Problem& p) {
  const int device = ctx.allocator().device_index();
  void* stream = ctx.allocator().native_stream();
  if (device < 0 || stream == nullptr) return false;  // not a CUDA device's allocator
  DeviceState& s = g_states.get(device);
  gpu::DeviceScope scope(device);  // cuBLASLt runs on the current device
  std::lock_guard<std::mutex> lk(s.mu);
  if (!s.handle) {
    if (s.broken) return false;
    if (!ok(cublasLtCreate(&s.handle))) {
      s.handle = nullptr;
      s.broken = true;
      return false;
    }
  }
  Plan& plan = s.plan(p, g_tf32.load(std::memory_order_relaxed));
  if (!plan.ok) return false;
  if (p.bias && !set_desc(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias)) return false;
  std::shared_ptr<Buffer> workspace;  // stream-ordered: freed after the matmul has run
  if (plan.workspace > 0) workspace = ctx.allocator().allocate(plan.workspace);
  const float beta = p.c ? p.beta : 0.f;
  const cublasStatus_t st =
      cublasLtMatmul(s.handle, plan.desc, &p.alpha, p.b, plan.la, p.a, plan.lb, &beta, p.c ? p.c : p.y,
                     plan.lc ? plan.lc : plan.ld, p.y, plan.ld, &plan.algo, workspace ? workspace->data() : nullptr,
                     plan.workspace, static_cast<cudaStream_t>(stream));
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH) return false;
  R1_CHECK(ok(st), DeviceError) << "cuda:" << device << ": cuBLASLt matmul of " << p.batch << " x [" << p.M << ", "
                                << p.K << "] x [" << p.K << ", " << p.N << "] failed: " << cublasLtGetStatusString(st);
  g_cublas_calls.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void fall_back(KernelContext& ctx, KernelFn prev, KernelFn self, const char* op) {
  R1_CHECK(prev != nullptr && prev != self, DeviceError)
      << op << ": no CUDA kernel to fall back to for a node cuBLASLt does not cover";
  g_fallback_calls.fetch_add(1, std::memory_order_relaxed);
  prev(ctx);
}

void set_tf32(bool enabled) { g_tf32.store(enabled); }
bool tf32() { return g_tf32.load(); }

size_t runtime_version() { return cublasLtGetVersion(); }

Stats stats() {
  Stats s;
  s.cublas_calls = g_cublas_calls.load();
  s.fallback_calls = g_fallback_calls.load();
  g_states.for_each([&](DeviceState& d) {
    std::lock_guard<std::mutex> dl(d.mu);
    s.cached_plans += d.plans.size();
  });
  return s;
}

void reset_stats() {
  g_cublas_calls.store(0);
  g_fallback_calls.store(0);
}

}  // namespace r1::cublas
