// int4 GEMM driver (gemm_s4.h): quantizes A per row and group of 128 (the int8 GEMM's asymmetric uint8 scheme
// on each group: a row's outliers then cost precision in their own group only), sums each row's uint8
// values per group (the correction for the +8 the nibbles carry), splits the product into tasks (split.h)
// and runs the VNNI or the portable block on each. The portable block is the reference for the VNNI one.
#include "r1/cpu/gemm/gemm_s4.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/cpu/gemm/gemm.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/gemm/split.h"

namespace r1::cpu::gemm {
namespace {

constexpr int64_t kBlockBytes = 4 * kNR;

int32_t nibble(const uint8_t* blocks, int64_t r, int64_t j) {
  const uint8_t byte = blocks[(r / 8) * kBlockBytes + (j / 16) * 64 + (j % 16) * 4 + r % 4];
  return (r % 8) >= 4 ? byte >> 4 : byte & 0xf;
}

}  // namespace

void gemm_block_s4_ref(const TileArgsS4& t) {
  const int64_t panels = (t.cols + kNR - 1) / kNR, group_bytes = (kS4Group / 8) * kBlockBytes;
  std::vector<float> out(static_cast<size_t>(kNR));
  for (int64_t q = 0; q < panels; ++q) {
    const int64_t nr = std::min(kNR, t.cols - q * kNR), j0 = q * kNR;
    for (int64_t r = 0; r < t.rows; ++r) {
      std::fill(out.begin(), out.end(), 0.f);
      for (int64_t g = 0; g < t.groups; ++g) {
        const uint8_t* blocks = t.b + q * t.panel_stride + g * group_bytes;
        const uint8_t* a = t.a + r * t.lda + g * kS4Group;
        for (int64_t j = 0; j < nr; ++j) {
          int32_t acc = 0;
          for (int64_t kk = 0; kk < kS4Group; ++kk) acc += a[kk] * nibble(blocks, kk, j);
          const int64_t rg = r * t.groups + g;
          const int32_t x = acc - 8 * t.a_gsum[rg] - t.a_zero[rg] * t.b_sum[g * t.npad + j0 + j];
          const float sc = t.b_scale[g * t.npad + j0 + j] * t.a_scale[rg];
          out[j] = std::fma(static_cast<float>(x), sc, out[j]);  // as the VNNI kernel rounds
        }
      }
      std::copy(out.begin(), out.begin() + nr, t.c + r * t.ldc + j0);
    }
    if (t.ep) epilogue_tile_ref(t.c + j0, t.ldc, t.rows, nr, t.row0, t.col0 + j0, *t.ep);
  }
}

void gemm_s4(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc,
             const Epilogue& ep, ThreadPool& pool) {
  if (M <= 0 || N <= 0) return;
  R1_CHECK(B.layout == PackedLayout::S4 && B.k == K && B.n == N, InternalError)
      << "gemm_s4: B must be an int4 packed " << K << " x " << N << " operand, got " << B.k << " x " << B.n;
  const int64_t groups = (K + kS4Group - 1) / kS4Group, ldq = groups * kS4Group;
  const int64_t npad = (N + kNR - 1) / kNR * kNR;
  thread_local std::vector<uint8_t> q_buf;
  thread_local std::vector<float> scale_buf;
  thread_local std::vector<int32_t> zero_buf, gsum_buf;
  q_buf.resize(static_cast<size_t>(M * ldq));
  scale_buf.resize(static_cast<size_t>(M * groups));
  zero_buf.resize(static_cast<size_t>(M * groups));
  gsum_buf.resize(static_cast<size_t>(M * groups));
  uint8_t* q = q_buf.data();
  float* scale = scale_buf.data();
  int32_t* zero = zero_buf.data();
  int32_t* gsum = gsum_buf.data();
  const bool vnni = s8_vnni_available();
  pool.parallel_for(0, M, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(K, 1)),
                    [&](int64_t r0, int64_t r1) {
                      for (int64_t r = r0; r < r1; ++r)
                        for (int64_t g = 0; g < groups; ++g) {
                          // Each group of a row its own range: the 128 values a scale of the weights meets.
                          const float* a = A + r * lda + g * kS4Group;
                          const int64_t len = std::min(kS4Group, K - g * kS4Group);
                          uint8_t* qg = q + r * ldq + g * kS4Group;
                          const int64_t rg = r * groups + g;
                          if (vnni)
                            quantize_rows_u8_avx512(a, lda, 1, len, qg, kS4Group, scale + rg, zero + rg);
                          else
                            quantize_rows_u8_ref(a, lda, 1, len, qg, kS4Group, scale + rg, zero + rg);
                          int32_t s = 0;
                          const uint8_t* x = q + r * ldq + g * kS4Group;
                          for (int64_t kk = 0; kk < kS4Group; ++kk) s += x[kk];
                          gsum[r * groups + g] = s;
                        }
                    });
  const Split s = plan_split(M, N, K, pool.num_threads(), 4);
  run_tasks(s, pool, [&](int64_t t) {
    const Task tk = task_of(s, M, t);
    if (tk.i1 <= tk.i0 || tk.p1 <= tk.p0) return;
    TileArgsS4 x;
    x.rows = tk.i1 - tk.i0;
    x.col0 = tk.p0 * kNR;
    x.cols = std::min(N, tk.p1 * kNR) - x.col0;
    x.groups = groups;
    x.row0 = tk.i0;
    x.a = q + tk.i0 * ldq;
    x.lda = ldq;
    x.a_scale = scale + tk.i0 * groups;
    x.a_zero = zero + tk.i0 * groups;
    x.a_gsum = gsum + tk.i0 * groups;
    x.b = static_cast<const uint8_t*>(B.panels) + tk.p0 * B.panel_stride;
    x.panel_stride = B.panel_stride;
    x.b_scale = B.col_scale + x.col0;
    x.b_sum = B.col_sum + x.col0;
    x.npad = npad;
    x.c = C + tk.i0 * ldc + x.col0;
    x.ldc = ldc;
    x.ep = &ep;
    if (vnni)
      gemm_block_s4_avx512(x);
    else
      gemm_block_s4_ref(x);
  });
}

}  // namespace r1::cpu::gemm
