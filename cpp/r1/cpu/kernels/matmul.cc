// CPU kernels of MatMul and Gemm, thin callers of cpu/gemm: MatMul runs the batched products of
// gemm/batched_matmul.h; Gemm (transA / transB, alpha, beta * C) one sgemm. float16/bfloat16 are staged
// through fp32; integer dtypes use a plain loop.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "r1/cpu/gemm/batched_matmul.h"
#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void matmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  MatMulPlan p = plan_matmul(a.shape(), b.shape());
  ThreadPool& pool = ctx.pool();
  DType t = a.dtype();
  if (t == DType::Float32) {
    matmul_f32(p, a.data<float>(), b.data<float>(), y.data<float>(), pool);
  } else if (is_float(t)) {
    FloatIn fa = float_input(a, pool), fb = float_input(b, pool);
    std::vector<float> fy(static_cast<size_t>(y.numel()));
    matmul_f32(p, fa.p, fb.p, fy.data(), pool);
    store_float(fy.data(), y, pool);
  } else {
    // Integers, and float64 in double (plain loops: no BLAS for it here).
    dispatch_numeric(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr ((std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_same_v<T, double>)
        matmul_int<T>(p, a.data<T>(), b.data<T>(), y.data<T>(), pool);
      else
        R1_THROW(InternalError) << "MatMul of " << dtype_name(t) << " reached the integer path";
    });
  }
}

void gemm_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  const auto& at = ctx.attrs();
  bool ta = at.get_int("transA", 0) != 0, tb = at.get_int("transB", 0) != 0;
  float alpha = at.get_float("alpha", 1.f), beta = at.get_float("beta", 1.f);
  int64_t M = y.shape()[0], N = y.shape()[1];
  int64_t K = ta ? a.shape()[0] : a.shape()[1];
  if (M * N == 0) return;
  if (c && (beta == 0.f || c->numel() == 0)) c = nullptr;
  int64_t cm = 1, cn = 1;
  if (c) {
    const Shape& cs = c->shape();
    if (cs.size() >= 1) cn = cs.back();
    if (cs.size() == 2) cm = cs[0];
    R1_CHECK((cm == 1 || cm == M) && (cn == 1 || cn == N), InputError)
        << "Gemm: C of shape " << shape_str(cs) << " does not broadcast to [" << M << ", " << N << "]";
  }
  ThreadPool& pool = ctx.pool();
  DType t = a.dtype();
  if (is_float(t)) {
    FloatIn fa = float_input(a, pool), fb = float_input(b, pool);
    std::vector<float> tmp;
    float* Y;
    if (t == DType::Float32) {
      Y = y.data<float>();
    } else {
      tmp.resize(static_cast<size_t>(M * N));
      Y = tmp.data();
    }
    // Our GEMM with C as a bias row in its epilogue (the exported nn.Linear: transB=1, C [N]).
    if (!ta && M >= 2 && (!c || (cm == 1 && cn == N)) && gemm::fast_gemm_available()) {
      gemm::Epilogue ep;
      ep.alpha = alpha;
      FloatIn fc;
      std::vector<float> scaled;
      if (c) {
        fc = float_input(*c, pool);
        ep.bias = fc.p;
        if (beta != 1.f) {
          scaled.assign(fc.p, fc.p + N);
          for (float& v : scaled) v *= beta;
          ep.bias = scaled.data();
        }
      }
      gemm::GemmB gb;
      gb.f32 = fb.p;
      gb.ld = tb ? K : N;
      gb.trans = tb;
      gemm::fused_gemm(M, N, K, fa.p, K, gb, gemm::PackedLayout::F32, Y, N, ep, pool);
      if (t != DType::Float32) store_float(Y, y, pool);
      return;
    }
    if (c) {
      FloatIn fc = float_input(*c, pool);
      const float* C = fc.p;
      pool.parallel_for(0, M, std::max<int64_t>(1, kGrainElementwise / N), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float* cr = C + (cm == 1 ? 0 : i) * cn;
          float* yr = Y + i * N;
          if (cn == 1)
            for (int64_t j = 0; j < N; ++j) yr[j] = beta * cr[0];
          else
            for (int64_t j = 0; j < N; ++j) yr[j] = beta * cr[j];
        }
      });
    }
    sgemm(ta, tb, M, N, K, alpha, fa.p, ta ? M : K, fb.p, tb ? K : N, c ? 1.f : 0.f, Y, N, pool);
    if (t != DType::Float32) store_float(Y, y, pool);
    return;
  }
  dispatch_numeric(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      const T* A = a.data<T>();
      const T* B = b.data<T>();
      const T* C = c ? c->data<T>() : nullptr;
      T* Y = y.data<T>();
      pool.parallel_for(
          0, M, std::max<int64_t>(1, kGemmParallelWork / std::max<int64_t>(N * K, 1)), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
              for (int64_t j = 0; j < N; ++j) {
                T s = 0;
                for (int64_t k = 0; k < K; ++k) {
                  T av = ta ? A[k * M + i] : A[i * K + k];
                  T bv = tb ? B[j * K + k] : B[k * N + j];
                  s = static_cast<T>(s + av * bv);
                }
                double v = static_cast<double>(alpha) * static_cast<double>(s);
                if (C)
                  v += static_cast<double>(beta) * static_cast<double>(C[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)]);
                Y[i * N + j] = static_cast<T>(v);
              }
          });
    }
  });
}

}  // namespace

void register_matmul_kernels(KernelTable& t) {
  t.add("MatMul", matmul_kernel);
  t.add("Gemm", gemm_kernel);
}
}  // namespace r1::cpu
