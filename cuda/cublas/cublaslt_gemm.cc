// cuBLASLt MatMul / Gemm / r1::FusedMatMul (see cublaslt_gemm.h for what is covered): each op is mapped
// onto one Problem (cublaslt_plan.h) or handed to the kernel it replaced.
#include "cublaslt_gemm.h"

#include <mutex>

#include "cublaslt_plan.h"
#include "r1/backend/device.h"
#include "r1/backend/kernel.h"
#include "r1/core/shape.h"
#include "r1/core/tensor.h"

namespace r1::cublas {
namespace {

// The kernels replaced, written by _core's registry whenever it applies the override to a device.
KernelFn g_prev_matmul = nullptr, g_prev_gemm = nullptr, g_prev_fused = nullptr;

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

}  // namespace r1::cublas
