// The tensor-core path of the tiled GEMM (gemm_tile.cuh): fp16 / bf16 on CUDA through nvcuda::wmma.
#pragma once
#include "gemm_tile_args.cuh"

namespace r1::gpu::gemm {

// ---- tensor-core path: fp16 / bf16 on CUDA ---------------------------------------------------
#if !defined(R1_HIP)
constexpr int kWmmaBM = 64, kWmmaBN = 64, kWmmaBK = 32, kWmmaThreads = 128;  // 4 warps, 32 x 32 each

template <class T>
struct WmmaElem;
template <>
struct WmmaElem<F16> {
  using type = __half;
};
template <>
struct WmmaElem<BF16> {
  using type = __nv_bfloat16;
};

template <class T>
__global__ void __launch_bounds__(kWmmaThreads) gemm_wmma_kernel(GemmArgs p, GemmPtrs<T> q) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  using W = typename WmmaElem<T>::type;
  constexpr int BM = kWmmaBM, BN = kWmmaBN, BK = kWmmaBK, NT = kWmmaThreads;
  // Leading dims: multiples of 8 halves / 4 floats (wmma), padded against bank conflicts; every
  // fragment pointer below is then 32-byte aligned.
  constexpr int LDA = BK + 8, LDB = BN + 8, LDC = BN + 4;
  static_assert(BM * BK % (8 * NT) == 0 && BN * BK % (8 * NT) == 0 && BM * BN % NT == 0,
                "tile loads must split evenly");
  static_assert(LDA % 8 == 0 && LDB % 8 == 0, "uint4 stores into the tiles must stay 16-byte aligned");
  __shared__ __align__(32) uint16_t As[BM * LDA];  // A tile row-major: As[m * LDA + k]
  __shared__ __align__(32) uint16_t Bs[BK * LDB];  // B tile row-major: Bs[k * LDB + n]
  __shared__ __align__(32) float Cs[BM * LDC];     // accumulators on their way to the epilogue
  const int t = threadIdx.x;
  const int warp = t / 32, wm = warp / 2, wn = warp % 2;
  const int64_t tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BN - 1) / BN;
  const bool a_k_fast = p.a_cs == 1, b_n_fast = p.b_cs == 1;
  for (int64_t bt = blockIdx.z; bt < p.batch; bt += gridDim.z) {
    int64_t ao, bo;
    walk_offsets(p.batch_walk, bt, &ao, &bo);
    const uint16_t* A = q.a + ao;
    const uint16_t* B = q.b + bo;
    uint16_t* Y = q.y + bt * p.M * p.N;
    const bool a_vec = p.a_cs == 1 && p.a_rs % 8 == 0 && aligned16(A);
    const bool b_vec_n = p.b_cs == 1 && p.b_rs % 8 == 0 && aligned16(B);
    const bool b_vec_k = p.b_rs == 1 && p.b_cs % 8 == 0 && aligned16(B);
    for (int64_t tn = blockIdx.y; tn < tiles_n; tn += gridDim.y) {
      for (int64_t tm = blockIdx.x; tm < tiles_m; tm += gridDim.x) {
        const int64_t m0 = tm * BM, n0 = tn * BN;
        const bool full_m = m0 + BM <= p.M, full_n = n0 + BN <= p.N;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
        for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
          const bool full_k = k0 + BK <= p.K;
          // Whole tiles of 16-byte-aligned rows move as uint4 (8 elements); the rest element by
          // element: raw 16-bit copies, zero (0x0000 in both formats) outside the matrices.
          if (a_vec && full_m && full_k) {
#pragma unroll
            for (int i = 0; i < BM * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int mm = c / (BK / 8), kq = (c % (BK / 8)) * 8;
              *reinterpret_cast<uint4*>(As + mm * LDA + kq) =
                  *reinterpret_cast<const uint4*>(A + (m0 + mm) * p.a_rs + k0 + kq);
            }
          } else {
#pragma unroll 4
            for (int i = 0; i < BM * BK / NT; ++i) {
              const int e = t + i * NT;
              const int mm = a_k_fast ? e / BK : e % BM;
              const int kk = a_k_fast ? e % BK : e / BM;
              const int64_t gm = m0 + mm, gk = k0 + kk;
              As[mm * LDA + kk] = gm < p.M && gk < p.K ? A[gm * p.a_rs + gk * p.a_cs] : uint16_t{0};
            }
          }
          if (b_vec_n && full_n && full_k) {  // B(k, n0 + nq .. + 7)
#pragma unroll
            for (int i = 0; i < BN * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int kk = c / (BN / 8), nq = (c % (BN / 8)) * 8;
              *reinterpret_cast<uint4*>(Bs + kk * LDB + nq) =
                  *reinterpret_cast<const uint4*>(B + (k0 + kk) * p.b_rs + n0 + nq);
            }
          } else if (b_vec_k && full_n && full_k) {  // B(k0 + kq .. + 7, n): a transposed B
#pragma unroll
            for (int i = 0; i < BN * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int nn = c / (BK / 8), kq = (c % (BK / 8)) * 8;
              const uint4 v = *reinterpret_cast<const uint4*>(B + (n0 + nn) * p.b_cs + k0 + kq);
              const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
              for (int j = 0; j < 4; ++j) {  // little-endian: the lower address is the low half
                Bs[(kq + 2 * j) * LDB + nn] = static_cast<uint16_t>(w[j] & 0xffffu);
                Bs[(kq + 2 * j + 1) * LDB + nn] = static_cast<uint16_t>(w[j] >> 16);
              }
            }
          } else {
#pragma unroll 4
            for (int i = 0; i < BN * BK / NT; ++i) {
              const int e = t + i * NT;
              const int nn = b_n_fast ? e % BN : e / BK;
              const int kk = b_n_fast ? e / BN : e % BK;
              const int64_t gn = n0 + nn, gk = k0 + kk;
              Bs[kk * LDB + nn] = gn < p.N && gk < p.K ? B[gk * p.b_rs + gn * p.b_cs] : uint16_t{0};
            }
          }
          __syncthreads();
#pragma unroll
          for (int ks = 0; ks < BK; ks += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::row_major> fb[2];
#pragma unroll
            for (int i = 0; i < 2; ++i)
              wmma::load_matrix_sync(fa[i], reinterpret_cast<const W*>(As + (wm * 32 + i * 16) * LDA + ks), LDA);
#pragma unroll
            for (int j = 0; j < 2; ++j)
              wmma::load_matrix_sync(fb[j], reinterpret_cast<const W*>(Bs + ks * LDB + wn * 32 + j * 16), LDB);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
              for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
          }
          __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j)
            wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * LDC + wn * 32 + j * 16, acc[i][j], LDC,
                                    wmma::mem_row_major);
        __syncthreads();
#pragma unroll 1
        for (int i = 0; i < BM * BN / NT; ++i) {
          const int e = t + i * NT;
          const int r = e / BN, c = e % BN;
          const int64_t m = m0 + r, n = n0 + c;
          if (m < p.M && n < p.N) epilogue_store<T>(p, q, Y, m, n, Cs[r * LDC + c]);
        }
        __syncthreads();  // Cs is rewritten by the next tile
      }
    }
  }
#else
  (void)p;
  (void)q;
#endif
}
#endif  // !R1_HIP

}  // namespace r1::gpu::gemm
