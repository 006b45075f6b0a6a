// CPU kernels of the linalg family: MatMul, Gemm, MatMulInteger (Einsum in linalg_einsum.cc).
// float32 goes through cpu/gemm (our AVX-512 kernels, where present) or cpu/blas.h; float16/bfloat16
// are staged through fp32; integer dtypes use a plain loop. A MatMul whose B has no batch
// ([B,S,K] x [K,N]) is one GEMM with M = B*S.
#include <algorithm>
#include <cstring>
#include <vector>

#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {

void register_linalg_einsum_kernels(KernelTable& t);  // linalg_einsum.cc

namespace {

// C[M,N] = A[M,K] * B[K,N] for integer types (row-major, contiguous), accumulating in T.
template <class T>
void gemm_int(int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  for (int64_t i = 0; i < M; ++i) {
    T* __restrict c = C + i * N;
    std::fill(c, c + N, T(0));
    const T* a = A + i * K;
    for (int64_t k = 0; k < K; ++k) {
      T av = a[k];
      if (av == T(0)) continue;
      const T* __restrict b = B + k * N;
      for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + av * b[j]);
    }
  }
}

// The batched products of a numpy matmul: C[b] = A[a_off[b]] * B[b_off[b]], each M x K by K x N.
struct MatMulPlan {
  int64_t M = 0, N = 0, K = 0, batch = 1;
  std::vector<int64_t> a_off, b_off;  // element offsets per output batch
};

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

template <class T>
void matmul_int(const MatMulPlan& p, const T* A, const T* B, T* C, ThreadPool& pool) {
  const int64_t per = p.M * p.N * std::max<int64_t>(p.K, 1);
  // Parallel over (batch, row) pairs: each row is independent.
  int64_t rows = p.batch * p.M;
  int64_t grain = std::max<int64_t>(1, kGemmParallelWork / std::max<int64_t>(per / std::max<int64_t>(p.M, 1), 1));
  pool.parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / p.M, i = r % p.M;
      gemm_int<T>(1, p.N, p.K, A + p.a_off[b] + i * p.K, B + p.b_off[b], C + b * p.M * p.N + i * p.N);
    }
  });
}

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
    dispatch_numeric(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
        matmul_int<T>(p, a.data<T>(), b.data<T>(), y.data<T>(), pool);
    });
  }
}

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

void register_linalg_kernels(KernelTable& t) {
  t.add("MatMul", matmul_kernel);
  t.add("MatMulInteger", matmul_integer_kernel);
  t.add("Gemm", gemm_kernel);
  register_linalg_einsum_kernels(t);
}

}  // namespace r1::cpu
