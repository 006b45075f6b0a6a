// The one tiled GEMM of the GPU backend (MatMul, Gemm, r1::FusedMatMul): Y[b] = epilogue(A[b] @ B[b])
// with fp32 accumulation and a fused epilogue
//
//   Y(m, n) = act(alpha * acc(m, n) + bias[n] + add_scale * addend(m, n))
//
// written in the tensor dtype. A and B are read through (row, column) element strides, so transA /
// transB / trans_b need no copy; products of a batch find their A and B through an IndexWalk
// (broadcast batch dims have stride 0). The addend is Gemm's beta * C or FusedMatMul's residual,
// broadcast to Y through a row walk (offset of row m) and a column stride (0 or 1).
//
//   GemmArgs p;  p.M = M; p.N = N; p.K = K; p.a_rs = K; p.a_cs = 1; p.b_rs = N; p.b_cs = 1;
//   launch_gemm<T>(p, GemmPtrs<T>{a, b, nullptr, nullptr, y}, stream);
//
// Paths: fp32 (on CUDA and HIP) runs a SIMT kernel (64 x 64 tile, 16-deep K slices staged in
// shared memory as float, 4 x 4 outputs per thread, fmaf). fp16 / bf16 on CUDA run
// nvcuda::wmma 16x16x16 (fp32 accumulators, sm_80+) on a 64 x 64 x 32 tile staged in shared memory;
// the accumulators go through shared memory to the epilogue. fp16 / bf16 on HIP (gfx90a) run
// v_mfma_f32_32x32x8{f16,bf16_1k} (fp32 accumulators) on a 64 x 64 x 32 tile staged in LDS, one
// 32 x 32 block per wavefront; the epilogue reads the accumulators straight from registers.
// Whole tiles whose rows are 16-byte aligned along the contiguous dim load with 16-byte vectors
// (A row-major, B row-major or transposed); edge tiles, odd strides and transA take the element
// path, zero-filled on load and masked on store, so any M, N, K (K = 0 included: the epilogue of
// zero) work.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "gemm_tile_args.cuh"
#include "gemm_tile_mfma.cuh"
#include "gemm_tile_wmma.cuh"

namespace r1::gpu::gemm {

// ---- SIMT path: every dtype, fp32 FMA --------------------------------------------------------
constexpr int kSimtBM = 64, kSimtBN = 64, kSimtBK = 16, kSimtThreads = 256;

template <class T>
__global__ void __launch_bounds__(kSimtThreads) gemm_simt_kernel(GemmArgs p, GemmPtrs<T> q) {
  constexpr int BM = kSimtBM, BN = kSimtBN, BK = kSimtBK, NT = kSimtThreads;
  static_assert(BM * BK % NT == 0 && BN * BK % NT == 0, "tile loads must split evenly");
  static_assert(BM * BK / 4 == NT && BN * BK / 4 == NT, "vector loads: one float4 per thread and operand");
  __shared__ float As[BK][BM + 4];  // A tile, k-major: As[k][m]
  __shared__ float Bs[BK][BN + 4];  // B tile: Bs[k][n]
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int64_t tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BN - 1) / BN;
  // Consecutive threads load along the operand's contiguous dim (coalesced reads).
  const bool a_k_fast = p.a_cs == 1, b_n_fast = p.b_cs == 1;
  for (int64_t bt = blockIdx.z; bt < p.batch; bt += gridDim.z) {
    int64_t ao, bo;
    walk_offsets(p.batch_walk, bt, &ao, &bo);
    const typename T::storage* A = q.a + ao;
    const typename T::storage* B = q.b + bo;
    typename T::storage* Y = q.y + bt * p.M * p.N;
    const bool a_vec = p.a_cs == 1 && p.a_rs % 4 == 0 && aligned16(A);
    const bool b_vec_n = p.b_cs == 1 && p.b_rs % 4 == 0 && aligned16(B);
    const bool b_vec_k = p.b_rs == 1 && p.b_cs % 4 == 0 && aligned16(B);
    for (int64_t tn = blockIdx.y; tn < tiles_n; tn += gridDim.y) {
      for (int64_t tm = blockIdx.x; tm < tiles_m; tm += gridDim.x) {
        const int64_t m0 = tm * BM, n0 = tn * BN;
        const bool full_m = m0 + BM <= p.M, full_n = n0 + BN <= p.N;
        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
        for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
          const bool full_k = k0 + BK <= p.K;
          bool a_done = false, b_done = false;
          if constexpr (std::is_same_v<T, F32>) {
            // Whole tiles of 16-byte-aligned rows: one float4 per thread and operand.
            if (a_vec && full_m && full_k) {
              const int mm = t / (BK / 4), kq = (t % (BK / 4)) * 4;
              const float4 v = *reinterpret_cast<const float4*>(A + (m0 + mm) * p.a_rs + k0 + kq);
              As[kq][mm] = v.x;
              As[kq + 1][mm] = v.y;
              As[kq + 2][mm] = v.z;
              As[kq + 3][mm] = v.w;
              a_done = true;
            }
            if (b_vec_n && full_n && full_k) {  // B(k, n0 + nq .. + 3)
              const int kk = t / (BN / 4), nq = (t % (BN / 4)) * 4;
              const float4 v = *reinterpret_cast<const float4*>(B + (k0 + kk) * p.b_rs + n0 + nq);
              Bs[kk][nq] = v.x;
              Bs[kk][nq + 1] = v.y;
              Bs[kk][nq + 2] = v.z;
              Bs[kk][nq + 3] = v.w;
              b_done = true;
            } else if (b_vec_k && full_n && full_k) {  // B(k0 + kq .. + 3, n): a transposed B
              const int nn = t / (BK / 4), kq = (t % (BK / 4)) * 4;
              const float4 v = *reinterpret_cast<const float4*>(B + (n0 + nn) * p.b_cs + k0 + kq);
              Bs[kq][nn] = v.x;
              Bs[kq + 1][nn] = v.y;
              Bs[kq + 2][nn] = v.z;
              Bs[kq + 3][nn] = v.w;
              b_done = true;
            }
          }
          if (!a_done) {
#pragma unroll
            for (int i = 0; i < BM * BK / NT; ++i) {
              const int e = t + i * NT;
              const int mm = a_k_fast ? e / BK : e % BM;
              const int kk = a_k_fast ? e % BK : e / BM;
              const int64_t gm = m0 + mm, gk = k0 + kk;
              As[kk][mm] = gm < p.M && gk < p.K ? T::load(A[gm * p.a_rs + gk * p.a_cs]) : 0.f;
            }
          }
          if (!b_done) {
#pragma unroll
            for (int i = 0; i < BN * BK / NT; ++i) {
              const int e = t + i * NT;
              const int nn = b_n_fast ? e % BN : e / BK;
              const int kk = b_n_fast ? e / BN : e % BK;
              const int64_t gn = n0 + nn, gk = k0 + kk;
              Bs[kk][nn] = gn < p.N && gk < p.K ? T::load(B[gk * p.b_rs + gn * p.b_cs]) : 0.f;
            }
          }
          __syncthreads();
#pragma unroll
          for (int kk = 0; kk < BK; ++kk) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
              for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
          }
          __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int64_t m = m0 + ty + 16 * i;
          if (m >= p.M) continue;
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int64_t n = n0 + tx + 16 * j;
            if (n < p.N) epilogue_store<T>(p, q, Y, m, n, acc[i][j]);
          }
        }
      }
    }
  }
}

// Launches the product on `s`; nothing to do when Y is empty.
template <class T>
void launch_gemm(const GemmArgs& p, const GemmPtrs<T>& q, gpuStream_t s) {
  if (p.M <= 0 || p.N <= 0 || p.batch <= 0) return;
  auto grid_for = [&](int bm, int bn) {
    const int64_t tm = (p.M + bm - 1) / bm, tn = (p.N + bn - 1) / bn;
    // Kernels loop over whatever the grid does not cover.
    return dim3(static_cast<unsigned>(std::min<int64_t>(tm, 0x7fffffff)),
                static_cast<unsigned>(std::min<int64_t>(tn, 65535)),
                static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)));
  };
#if !defined(R1_HIP)
  if constexpr (!std::is_same_v<T, F32>) {
    gemm_wmma_kernel<T><<<grid_for(kWmmaBM, kWmmaBN), kWmmaThreads, 0, s>>>(p, q);
  } else {
    gemm_simt_kernel<T><<<grid_for(kSimtBM, kSimtBN), kSimtThreads, 0, s>>>(p, q);
  }
#else
  // fp16 / bf16: MFMA on any strides (edge tiles, transA and odd strides take the element loads).
  // Each wavefront owns one 32 x 32 block of the 64 x 64 tile; e.g. thread 101 of a block is lane 37
  // of wavefront 1 (wm 0, wn 1), whose accumulator float 6 is Y(m0 + 14, n0 + 32 + 5).
  if constexpr (!std::is_same_v<T, F32>) {
    gemm_mfma_kernel<T><<<grid_for(kMfmaBM, kMfmaBN), kMfmaThreads, 0, s>>>(p, q);
  } else {
    gemm_simt_kernel<T><<<grid_for(kSimtBM, kSimtBN), kSimtThreads, 0, s>>>(p, q);
  }
#endif
  R1_GPU_CHECK_LAUNCH();
}

}  // namespace r1::gpu::gemm
