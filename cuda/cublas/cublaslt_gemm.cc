// cuBLASLt MatMul / Gemm / r1::FusedMatMul (see cublaslt_gemm.h for what is covered).
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
#include "cublaslt_gemm.h"

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

// The kernels replaced, written by _core's registry whenever it applies the override to a device.
KernelFn g_prev_matmul = nullptr, g_prev_gemm = nullptr, g_prev_fused = nullptr;

enum class Epi : int64_t { None = 0, Relu = 1, GeluTanh = 2 };

// One matmul in our (row-major) terms: Y[M, N] = epi(alpha * op(A) @ op(B) + beta * C + bias), per batch.
struct Problem {
  DType dtype = DType::Float32;
  bool trans_a = false;  // A stored [K, M] (else [M, K])
  bool trans_b = false;  // B stored [N, K] (else [K, N])
  int64_t M = 0, N = 0, K = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_y = 0;  // elements between batches (batch > 1)
  float alpha = 1.f, beta = 0.f;
  Epi epi = Epi::None;
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;     // laid out exactly as Y, scaled by beta; nullptr: none
  const void* bias = nullptr;  // N values added to every row after alpha * AB + beta * C; nullptr: none
  void* y = nullptr;
};

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

std::mutex g_states_mu;
// Never freed: the handles must not be destroyed after the CUDA runtime has shut down at exit.
std::map<int, std::unique_ptr<DeviceState>>* g_states = new std::map<int, std::unique_ptr<DeviceState>>();

DeviceState& device_state(int device) {
  std::lock_guard<std::mutex> lk(g_states_mu);
  std::unique_ptr<DeviceState>& s = (*g_states)[device];
  if (!s) s = std::make_unique<DeviceState>();
  return *s;
}

// Makes `device` current for the calling thread (cuBLASLt runs on the current device) and restores
// the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    cudaError_t e = cudaGetDevice(&prev_);
    R1_CHECK(e == cudaSuccess, DeviceError) << "cuda:" << device << ": cudaGetDevice failed: " << cudaGetErrorString(e);
    if (prev_ != device) {
      e = cudaSetDevice(device);
      R1_CHECK(e == cudaSuccess, DeviceError)
          << "cuda:" << device << ": cudaSetDevice failed: " << cudaGetErrorString(e);
      restore_ = true;
    }
  }
  ~DeviceScope() {
    if (restore_) cudaSetDevice(prev_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = 0;
  bool restore_ = false;
};

// Enqueues the matmul on the kernel stream; false (nothing enqueued) when cuBLASLt cannot run it.
bool run(KernelContext& ctx, const Problem& p) {
  const int device = ctx.allocator().device_index();
  void* stream = ctx.allocator().native_stream();
  if (device < 0 || stream == nullptr) return false;  // not a CUDA device's allocator
  DeviceState& s = device_state(device);
  DeviceScope scope(device);
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

bool lt_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Numpy broadcasting of r to y (right-aligned; each dim of r is 1 or y's).
bool broadcasts_to(const Shape& r, const Shape& y) {
  if (r.size() > y.size()) return false;
  for (size_t i = 0; i < r.size(); ++i) {
    const int64_t rd = r[r.size() - 1 - i], yd = y[y.size() - 1 - i];
    if (rd != 1 && rd != yd) return false;
  }
  return true;
}

// r broadcasts to y without repeating anything, so its bytes are laid out exactly as y's: every dim
// of r is 1 or y's, and as many elements means no dim of r is 1 where y's is larger (y non-empty).
bool same_layout(const Shape& r, const Shape& y) { return broadcasts_to(r, y) && numel(r) == numel(y); }

const Tensor* present(KernelContext& ctx, size_t i) {
  return ctx.has_input(i) && ctx.input(i).numel() > 0 ? &ctx.input(i) : nullptr;
}

// ---- MatMul: a B without batch folds A's batch into M; equal batches (up to dims of 1) stride --------
bool try_matmul(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return false;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!lt_dtype(a.dtype()) || b.dtype() != a.dtype() || a.rank() < 1 || b.rank() < 1) return false;
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  Problem p;
  p.dtype = a.dtype();
  p.M = as[as.size() - 2];
  p.K = as.back();
  p.N = bs.back();
  if (bs[bs.size() - 2] != p.K || p.M <= 0 || p.N <= 0 || p.K <= 0) return false;
  const Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  const int64_t na = numel(ab), nb = numel(bb);
  if (na <= 0 || nb <= 0) return false;
  if (nb == 1) {
    p.M *= na;  // one B for all: A's matrices stack into one, as do Y's
  } else {
    if (na != nb || na > INT32_MAX) return false;  // A broadcast over B's batch: the tiled kernel's walk
    Shape ob;
    try {
      ob = broadcast_shapes(ab, bb);
    } catch (const Error&) {
      return false;  // the replaced kernel reports it
    }
    if (numel(ob) != na) return false;  // each batch dim broadcasts one way and the other
    p.batch = na;
    p.stride_a = p.M * p.K;
    p.stride_b = p.K * p.N;
    p.stride_y = p.M * p.N;
  }
  Tensor& y = ctx.output(0);
  if (y.dtype() != a.dtype() || y.numel() != p.batch * p.M * p.N) return false;
  p.a = a.raw();
  p.b = b.raw();
  p.y = y.raw();
  return run(ctx, p);
}

// ---- Gemm: C as a matrix (beta) or, with beta = 1, a row vector through the bias epilogue -------------
bool try_gemm(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return false;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!lt_dtype(a.dtype()) || b.dtype() != a.dtype() || a.rank() != 2 || b.rank() != 2) return false;
  const AttributeMap& at = ctx.attrs();
  Problem p;
  p.dtype = a.dtype();
  p.trans_a = at.get_int("transA", 0) != 0;
  p.trans_b = at.get_int("transB", 0) != 0;
  p.alpha = at.get_float("alpha", 1.f);
  const float beta = at.get_float("beta", 1.f);
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  p.M = p.trans_a ? as[1] : as[0];
  p.K = p.trans_a ? as[0] : as[1];
  p.N = p.trans_b ? bs[0] : bs[1];
  const int64_t kb = p.trans_b ? bs[1] : bs[0];
  // alpha = 0: cuBLAS may skip reading A and B, where the tiled kernel and the CPU propagate NaN.
  if (kb != p.K || p.M <= 0 || p.N <= 0 || p.K <= 0 || p.alpha == 0.f) return false;
  if (const Tensor* c = present(ctx, 2)) {
    const Shape y_shape{p.M, p.N};
    if (c->dtype() != a.dtype() || c->rank() > 2 || !broadcasts_to(c->shape(), y_shape)) return false;
    const bool row = c->numel() == p.N && (c->rank() == 0 ? p.N == 1 : c->shape().back() == p.N);
    if (beta == 0.f) {
      // dropped, NaN or not, as by the tiled kernel and the CPU
    } else if (c->numel() == p.M * p.N) {
      p.c = c->raw();  // same_layout: broadcasts and has Y's element count
      p.beta = beta;
    } else if (row && beta == 1.f) {
      p.bias = c->raw();
    } else {
      return false;  // columns, scalars, or a scaled row: the tiled kernel's addend walk
    }
  }
  Tensor& y = ctx.output(0);
  if (y.dtype() != a.dtype() || y.numel() != p.M * p.N) return false;
  p.a = a.raw();
  p.b = b.raw();
  p.y = y.raw();
  return run(ctx, p);
}

// ---- r1::FusedMatMul: ReLU / tanh-GELU and bias as epilogues, a residual of Y's shape as C ----------
bool try_fused(KernelContext& ctx) {
  const AttributeMap& at = ctx.attrs();
  if (at.get_int("packed_b", 0) != 0) return false;
  Problem p;
  const std::string act = at.get_string("activation", "");
  if (act == "Relu")
    p.epi = Epi::Relu;
  else if (act == "GeluTanh")
    p.epi = Epi::GeluTanh;  // CUBLASLT_EPILOGUE_GELU is the tanh form; erf "Gelu" is not
  else if (!act.empty())
    return false;
  if (!ctx.has_input(0) || !ctx.has_input(1)) return false;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!lt_dtype(a.dtype()) || b.dtype() != a.dtype() || a.rank() < 1 || b.rank() != 2) return false;
  p.dtype = a.dtype();
  p.alpha = at.get_float("alpha", 1.f);
  p.trans_b = at.get_int("trans_b", 0) != 0;
  const Shape& bs = b.shape();
  p.K = a.shape().back();
  p.M = numel(Shape(a.shape().begin(), a.shape().end() - 1));  // 1 for a 1-D A
  p.N = p.trans_b ? bs[0] : bs[1];
  const int64_t kb = p.trans_b ? bs[1] : bs[0];
  if (kb != p.K || p.M <= 0 || p.N <= 0 || p.K <= 0 || p.alpha == 0.f) return false;
  Tensor& y = ctx.output(0);
  if (y.dtype() != a.dtype() || y.numel() != p.M * p.N) return false;
  if (const Tensor* bias = present(ctx, 2)) {
    if (bias->dtype() != a.dtype() || bias->numel() != p.N) return false;
    p.bias = bias->raw();
  }
  if (const Tensor* res = present(ctx, 3)) {
    if (res->dtype() != a.dtype() || !same_layout(res->shape(), y.shape())) return false;
    p.c = res->raw();
    p.beta = 1.f;
  }
  p.a = a.raw();
  p.b = b.raw();
  p.y = y.raw();
  return run(ctx, p);
}

void matmul(KernelContext& ctx) {
  if (!try_matmul(ctx)) fall_back(ctx, g_prev_matmul, &matmul, "MatMul");
}
void gemm(KernelContext& ctx) {
  if (!try_gemm(ctx)) fall_back(ctx, g_prev_gemm, &gemm, "Gemm");
}
void fused_matmul(KernelContext& ctx) {
  if (!try_fused(ctx)) fall_back(ctx, g_prev_fused, &fused_matmul, "FusedMatMul");
}

}  // namespace

void register_kernels(const r1_backend_hook* hook) {
  check_backend_hook(hook);
  static std::mutex mu;
  static bool done = false;  // a second registration would make our kernel its own fallback
  std::lock_guard<std::mutex> lk(mu);
  if (done) return;
  struct Op {
    const char* op;
    const char* domain;
    KernelFn fn;
    KernelFn* previous;
  };
  const Op ops[] = {{"MatMul", "", &matmul, &g_prev_matmul},
                    {"Gemm", "", &gemm, &g_prev_gemm},
                    {"FusedMatMul", "r1", &fused_matmul, &g_prev_fused}};
  for (const Op& o : ops) {
    char err[512] = {0};
    // host_inputs 0 and no predicate: the replaced kernel's are kept (one float dtype, no packed_b).
    R1_CHECK(hook->add_kernel("cuda", o.op, o.domain, o.fn, 0, nullptr, o.previous, err, sizeof err) == 0, DeviceError)
        << "deepseek_r1._cublas: cannot register " << o.op << " on the CUDA backend: " << err;
  }
  done = true;
}

void set_tf32(bool enabled) { g_tf32.store(enabled); }
bool tf32() { return g_tf32.load(); }

size_t runtime_version() { return cublasLtGetVersion(); }

Stats stats() {
  Stats s;
  s.cublas_calls = g_cublas_calls.load();
  s.fallback_calls = g_fallback_calls.load();
  std::lock_guard<std::mutex> lk(g_states_mu);
  for (auto& kv : *g_states) {
    std::lock_guard<std::mutex> dl(kv.second->mu);
    s.cached_plans += kv.second->plans.size();
  }
  return s;
}

void reset_stats() {
  g_cublas_calls.store(0);
  g_fallback_calls.store(0);
}

}  // namespace r1::cublas
