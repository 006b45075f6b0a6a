// conv_sgemm (conv_sgemm.h): sgemm_serial for the layouts it takes, a packed 4 x 8 micro-kernel otherwise.
#include "r1/cpu/gemm/conv_sgemm.h"

#include <algorithm>
#include <vector>

#include "r1/cpu/gemm/blas.h"

namespace r1::cpu {

namespace {
constexpr int kMR = 4;
constexpr int kNR = 8;
constexpr int64_t kKC = 256;
constexpr int64_t kNC = 512;

inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* __restrict c_out,
                         int64_t ldc, int mr, int nr, bool acc) {
  float c[kMR][kNR];
  for (int r = 0; r < kMR; ++r)
    for (int t = 0; t < kNR; ++t) c[r][t] = 0.f;
  for (int64_t k = 0; k < kc; ++k) {
    const float* a = pa + k * kMR;
    const float* b = pb + k * kNR;
    for (int r = 0; r < kMR; ++r)
      for (int t = 0; t < kNR; ++t) c[r][t] += a[r] * b[t];
  }
  if (mr == kMR && nr == kNR) {
    for (int r = 0; r < kMR; ++r) {
      float* cr = c_out + r * ldc;
      if (acc)
        for (int t = 0; t < kNR; ++t) cr[t] += c[r][t];
      else
        for (int t = 0; t < kNR; ++t) cr[t] = c[r][t];
    }
  } else {
    for (int r = 0; r < mr; ++r) {
      float* cr = c_out + r * ldc;
      for (int t = 0; t < nr; ++t) cr[t] = acc ? cr[t] + c[r][t] : c[r][t];
    }
  }
}
}  // namespace

void conv_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  // The shared BLAS wrapper (OpenBLAS when available) for the layouts it takes.
  if (K > 0 && a_cs == 1 && a_rs >= K) {
    sgemm_serial(false, false, M, N, K, 1.f, A, a_rs, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  if (K > 0 && a_rs == 1 && a_cs >= M) {
    sgemm_serial(true, false, M, N, K, 1.f, A, a_cs, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    return;
  }
  thread_local std::vector<float> pa_buf, pb_buf;
  if (pb_buf.size() < static_cast<size_t>(kKC * kNC)) pb_buf.resize(kKC * kNC);
  if (pa_buf.size() < static_cast<size_t>(kKC * kMR)) pa_buf.resize(kKC * kMR);
  float* pa = pa_buf.data();
  float* pb = pb_buf.data();
  for (int64_t jc = 0; jc < N; jc += kNC) {
    int64_t nc = std::min(kNC, N - jc);
    int64_t npan = (nc + kNR - 1) / kNR;
    for (int64_t kc = 0; kc < K; kc += kKC) {
      int64_t kcl = std::min(kKC, K - kc);
      bool acc = accumulate || kc > 0;
      for (int64_t p = 0; p < npan; ++p) {
        float* dst = pb + p * kcl * kNR;
        int64_t j0 = jc + p * kNR;
        int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
        for (int64_t k = 0; k < kcl; ++k) {
          const float* src = B + (kc + k) * ldb + j0;
          float* d = dst + k * kNR;
          if (nr == kNR) {
            for (int t = 0; t < kNR; ++t) d[t] = src[t];
          } else {
            for (int t = 0; t < kNR; ++t) d[t] = t < nr ? src[t] : 0.f;
          }
        }
      }
      for (int64_t ic = 0; ic < M; ic += kMR) {
        int mr = static_cast<int>(std::min<int64_t>(kMR, M - ic));
        for (int64_t k = 0; k < kcl; ++k)
          for (int r = 0; r < kMR; ++r) pa[k * kMR + r] = r < mr ? A[(ic + r) * a_rs + (kc + k) * a_cs] : 0.f;
        for (int64_t p = 0; p < npan; ++p) {
          int64_t j0 = jc + p * kNR;
          int nr = static_cast<int>(std::min<int64_t>(kNR, N - j0));
          micro_kernel(kcl, pa, pb + p * kcl * kNR, C + ic * ldc + j0, ldc, mr, nr, acc);
        }
      }
    }
  }
}

}  // namespace r1::cpu
