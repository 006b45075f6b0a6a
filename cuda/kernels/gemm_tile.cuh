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

#include "../common.cuh"
#include "types.cuh"

#if !defined(R1_HIP)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif

namespace r1::gpu::gemm {

constexpr int kMaxWalkRank = 8;

// Activations of r1::FusedMatMul, as the CPU kernel (cpu/gemm/epilogue.cc) names them.
enum class Act : int32_t { None, Relu, Gelu, GeluTanh, Sigmoid, Silu, Tanh, HardSigmoid, HardSwish, Clip, LeakyRelu };

// An index i decomposed over dims (the last fastest) into two offsets: sum of c_d * s0[d] and of
// c_d * s1[d]. rank 0: both offsets 0.
struct IndexWalk {
  int rank = 0;
  int64_t dims[kMaxWalkRank] = {};
  int64_t s0[kMaxWalkRank] = {};
  int64_t s1[kMaxWalkRank] = {};
};

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  int64_t a_rs = 0, a_cs = 0;  // A(m, k) at a[m * a_rs + k * a_cs]
  int64_t b_rs = 0, b_cs = 0;  // B(k, n) at b[k * b_rs + n * b_cs]
  int64_t batch = 1;           // product i writes y + i * M * N
  IndexWalk batch_walk;        // i -> (offset of A, offset of B) in elements
  float alpha = 1.f;
  float add_scale = 1.f;  // addend(m, n) at add[row offset(m) + n * add_cs]
  int64_t add_cs = 0;
  IndexWalk add_walk;  // m -> row offset of the addend (s0)
  Act act = Act::None;
  float act_alpha = 0.f, act_beta = 0.f;
};

template <class T>
struct GemmPtrs {
  const typename T::storage* a = nullptr;
  const typename T::storage* b = nullptr;
  const typename T::storage* bias = nullptr;  // [N] or null
  const typename T::storage* add = nullptr;   // addend or null
  typename T::storage* y = nullptr;
};

__device__ inline void walk_offsets(const IndexWalk& w, int64_t i, int64_t* o0, int64_t* o1) {
  int64_t x = 0, z = 0;
#pragma unroll
  for (int d = kMaxWalkRank - 1; d >= 0; --d) {
    if (d >= w.rank) continue;
    const int64_t q = i / w.dims[d];
    const int64_t c = i - q * w.dims[d];
    i = q;
    x += c * w.s0[d];
    z += c * w.s1[d];
  }
  *o0 = x;
  *o1 = z;
}

__device__ inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ inline float activate(float x, Act act, float pa, float pb) {
  switch (act) {
    case Act::None:
      return x;
    case Act::Relu:
      return x < 0.f ? 0.f : x;
    // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): no cancellation for negative x.
    case Act::Gelu:
      return 0.5f * x * erfcf(-x * 0.70710678118654752f);
    case Act::GeluTanh:
      return x / (1.f + expf(-1.5957691216057308f * (x + 0.044715f * x * x * x)));
    case Act::Sigmoid:
      return 1.f / (1.f + expf(-x));
    case Act::Silu:
      return x / (1.f + expf(-x));
    case Act::Tanh:
      return tanhf(x);
    case Act::HardSigmoid:
      return fminf(1.f, fmaxf(0.f, pa * x + pb));
    case Act::HardSwish:
      return x * fminf(1.f, fmaxf(0.f, x * (1.f / 6.f) + 0.5f));
    case Act::Clip:
      return x < pa ? pa : (x > pb ? pb : x);
    case Act::LeakyRelu:
      return x < 0.f ? x * pa : x;
  }
  return x;
}

// Writes Y(m, n) of one product (y at the product's first element).
template <class T>
__device__ inline void epilogue_store(const GemmArgs& p, const GemmPtrs<T>& q, typename T::storage* y, int64_t m,
                                      int64_t n, float acc) {
  float v = p.alpha * acc;
  if (q.bias) v += T::load(q.bias[n]);
  if (q.add) {
    int64_t ro, unused;
    walk_offsets(p.add_walk, m, &ro, &unused);
    v += p.add_scale * T::load(q.add[ro + n * p.add_cs]);
  }
  y[m * p.N + n] = T::store(activate(v, p.act, p.act_alpha, p.act_beta));
}

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

// ---- matrix-core path: fp16 / bf16 on HIP (gfx90a MFMA) --------------------------------------
#if defined(R1_HIP)
// Register layout of v_mfma_f32_32x32x8f16 and v_mfma_f32_32x32x8bf16_1k (one block, CBSZ = ABID =
// BLGP = 0, 64-lane wavefront), D(32 x 32) = A(32 x 8) @ B(8 x 32) + C:
//   A: lane l holds A(l % 32, 4 * (l / 32) + e) as element e = 0..3 of its 4 x 16-bit operand
//   B: lane l holds B(4 * (l / 32) + e, l % 32) as element e (the same k range as A)
//   C / D: lane l holds D(8 * (i / 4) + 4 * (l / 32) + i % 4, l % 32) as float i = 0..15
// Source: AMD Matrix Instruction Calculator (github.com/ROCm/amd_matrix_instruction_calculator,
// matrix_calculator.py, gfx9/CDNA __get_input_reg_lanes / __get_output_reg_lanes; both
// instructions have M = N = 32, K = 8, 1 block, 16-bit inputs on cdna2, so the formulas give the
// same layout for either), AMD's published tool for these layouts; it agrees with
// composable_kernel's mfma_type<mfma_f32_32x32x8f16> (include/ck/tensor_operation/gpu/warp/
// xdlops_gemm.hpp: group_size 4, num_groups_per_blk 4, num_threads_per_blk 32, num_input_blks 2,
// k_per_blk 4). Element e of a 4-element operand vector is the e-th 16-bit value in memory order
// (V[0].[15:0], V[0].[31:16], V[1].[15:0], V[1].[31:16]), so 4 consecutive k of an LDS row load as
// one 8-byte vector.
//
// Worked example (checked by the static_asserts below): lane 37 (37 % 32 = 5, 37 / 32 = 1) feeds
// A(5, 4..7) and B(4..7, 5); its accumulator float i = 6 (6 / 4 = 1, 6 % 4 = 2) is
// D(8 * 1 + 4 * 1 + 2, 5) = D(14, 5). Lane 0's floats 0..3 are D(0..3, 0), floats 4..7 D(8..11, 0);
// lane 32's floats 0..3 are D(4..7, 0): each group of 4 floats is 4 consecutive rows of one column.
__host__ __device__ constexpr int mfma32_in_mn(int lane) { return lane % 32; }       // A row / B column fed
__host__ __device__ constexpr int mfma32_in_k(int lane) { return 4 * (lane / 32); }  // first of 4 k (of 8)
__host__ __device__ constexpr int mfma32_acc_row(int lane, int i) { return 8 * (i / 4) + 4 * (lane / 32) + i % 4; }
__host__ __device__ constexpr int mfma32_acc_col(int lane, int i) {
  static_cast<void>(i);  // the column depends on the lane only
  return lane % 32;
}

// Every (lane, float) lands on a distinct D(row, col) of the 32 x 32 block, and every (lane,
// element) on a distinct A(row, k) of the 32 x 8 operand (B is the same map transposed).
constexpr bool mfma32_layouts_are_bijections() {
  bool acc_seen[32 * 32] = {}, in_seen[32 * 8] = {};
  for (int lane = 0; lane < 64; ++lane) {
    for (int i = 0; i < 16; ++i) {
      const int r = mfma32_acc_row(lane, i), c = mfma32_acc_col(lane, i);
      if (r < 0 || r >= 32 || c < 0 || c >= 32 || acc_seen[r * 32 + c]) return false;
      acc_seen[r * 32 + c] = true;
    }
    for (int e = 0; e < 4; ++e) {
      const int mn = mfma32_in_mn(lane), k = mfma32_in_k(lane) + e;
      if (k >= 8 || in_seen[mn * 8 + k]) return false;
      in_seen[mn * 8 + k] = true;
    }
  }
  return true;
}
static_assert(mfma32_layouts_are_bijections(), "MFMA 32x32x8 lane maps must cover each element once");
static_assert(mfma32_in_mn(37) == 5 && mfma32_in_k(37) == 4, "worked example: lane 37 feeds A(5, 4..7)");
static_assert(mfma32_acc_row(37, 6) == 14 && mfma32_acc_col(37, 6) == 5, "worked example: D(14, 5)");
static_assert(mfma32_acc_row(32, 0) == 4 && mfma32_acc_row(0, 4) == 8 && mfma32_acc_row(63, 15) == 31,
              "row groups of 4 alternate between lane halves");

typedef short MfmaS16x4 __attribute__((ext_vector_type(4)));    // the bf16_1k operand type (clang-15)
typedef __fp16 MfmaF16x4 __attribute__((ext_vector_type(4)));   // the f16 operand type (clang-15)
typedef float MfmaF32x16 __attribute__((ext_vector_type(16)));  // the 32 x 32 accumulator, 16 per lane

// D = A @ B + C on one 32 x 32 x 8 block; a and b are raw 16-bit values in the layout above.
template <class T>
struct Mfma32x32x8;
template <>
struct Mfma32x32x8<F16> {
  __device__ static MfmaF32x16 run(MfmaS16x4 a, MfmaS16x4 b, MfmaF32x16 c) {
    return __builtin_amdgcn_mfma_f32_32x32x8f16(__builtin_bit_cast(MfmaF16x4, a), __builtin_bit_cast(MfmaF16x4, b), c,
                                                0, 0, 0);
  }
};
template <>
struct Mfma32x32x8<BF16> {
  // The "_1k" variant is gfx90a's bf16 MFMA with 4 values per lane (the older 32x32x4bf16 takes 2).
  __device__ static MfmaF32x16 run(MfmaS16x4 a, MfmaS16x4 b, MfmaF32x16 c) {
    return __builtin_amdgcn_mfma_f32_32x32x8bf16_1k(a, b, c, 0, 0, 0);
  }
};

constexpr int kMfmaBM = 64, kMfmaBN = 64, kMfmaBK = 32;
constexpr int kMfmaThreads = 4 * WARP_SIZE;  // 4 wavefronts in a 2 x 2 grid, 32 x 32 outputs each

template <class T>
__global__ void __launch_bounds__(kMfmaThreads) gemm_mfma_kernel(GemmArgs p, GemmPtrs<T> q) {
#if defined(__HIP_DEVICE_COMPILE__) && !defined(__gfx90a__)
#error "gemm_mfma_kernel targets gfx90a (mfma_f32_32x32x8bf16_1k); check the builtins and layout for this target"
#endif
  static_assert(WARP_SIZE == 64, "MFMA layouts above assume 64-lane wavefronts");
  constexpr int BM = kMfmaBM, BN = kMfmaBN, BK = kMfmaBK, NT = kMfmaThreads;
  // Both tiles keep k contiguous (As[m * LDK + k], Bs[n * LDK + k]) so that a lane's 4 consecutive
  // k are one 8-byte read. LDK = 40 halves = 80 bytes: rows stay 16-byte aligned for uint4 stores,
  // and fragment reads (k offsets multiples of 4) 8-byte aligned.
  constexpr int LDK = BK + 8;
  static_assert(BM * BK % (8 * NT) == 0 && BN * BK % (8 * NT) == 0 && BM * BK % NT == 0 && BN * BK % NT == 0,
                "tile loads must split evenly");
  static_assert(LDK % 8 == 0 && BK % 8 == 0, "uint4 stores into the tiles must stay 16-byte aligned");
  static_assert(BM == 2 * 32 && BN == 2 * 32 && NT == 4 * 64, "2 x 2 wavefronts of one 32 x 32 block each");
  alignas(16) __shared__ uint16_t As[BM * LDK];  // A(m0 + m, k0 + k) at As[m * LDK + k]
  alignas(16) __shared__ uint16_t Bs[BN * LDK];  // B(k0 + k, n0 + n) at Bs[n * LDK + k]
  const int t = threadIdx.x;
  const int lane = t % WARP_SIZE, wave = t / WARP_SIZE, wm = wave / 2, wn = wave % 2;
  // This lane's operand rows in the tiles (fixed for the whole kernel).
  const uint16_t* a_frag = As + (wm * 32 + mfma32_in_mn(lane)) * LDK + mfma32_in_k(lane);
  const uint16_t* b_frag = Bs + (wn * 32 + mfma32_in_mn(lane)) * LDK + mfma32_in_k(lane);
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
        MfmaF32x16 acc;
#pragma unroll
        for (int i = 0; i < 16; ++i) acc[i] = 0.f;
        for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
          const bool full_k = k0 + BK <= p.K;
          // Whole tiles of 16-byte-aligned rows move as uint4 (8 elements); the rest element by
          // element: raw 16-bit copies, zero (0x0000 in both formats) outside the matrices.
          if (a_vec && full_m && full_k) {
#pragma unroll
            for (int i = 0; i < BM * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int mm = c / (BK / 8), kq = (c % (BK / 8)) * 8;
              *reinterpret_cast<uint4*>(As + mm * LDK + kq) =
                  *reinterpret_cast<const uint4*>(A + (m0 + mm) * p.a_rs + k0 + kq);
            }
          } else {
#pragma unroll 4
            for (int i = 0; i < BM * BK / NT; ++i) {
              const int e = t + i * NT;
              const int mm = a_k_fast ? e / BK : e % BM;
              const int kk = a_k_fast ? e % BK : e / BM;
              const int64_t gm = m0 + mm, gk = k0 + kk;
              As[mm * LDK + kk] = gm < p.M && gk < p.K ? A[gm * p.a_rs + gk * p.a_cs] : uint16_t{0};
            }
          }
          if (b_vec_k && full_n && full_k) {  // B(k0 + kq .. + 7, n): a transposed B, k contiguous
#pragma unroll
            for (int i = 0; i < BN * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int nn = c / (BK / 8), kq = (c % (BK / 8)) * 8;
              *reinterpret_cast<uint4*>(Bs + nn * LDK + kq) =
                  *reinterpret_cast<const uint4*>(B + (n0 + nn) * p.b_cs + k0 + kq);
            }
          } else if (b_vec_n && full_n && full_k) {  // B(k, n0 + nq .. + 7): row-major B, scattered
#pragma unroll
            for (int i = 0; i < BN * BK / 8 / NT; ++i) {
              const int c = t + i * NT;
              const int kk = c / (BN / 8), nq = (c % (BN / 8)) * 8;
              const uint4 v = *reinterpret_cast<const uint4*>(B + (k0 + kk) * p.b_rs + n0 + nq);
              const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
              for (int j = 0; j < 4; ++j) {  // little-endian: the lower address is the low half
                Bs[(nq + 2 * j) * LDK + kk] = static_cast<uint16_t>(w[j] & 0xffffu);
                Bs[(nq + 2 * j + 1) * LDK + kk] = static_cast<uint16_t>(w[j] >> 16);
              }
            }
          } else {
#pragma unroll 4
            for (int i = 0; i < BN * BK / NT; ++i) {
              const int e = t + i * NT;
              const int nn = b_n_fast ? e % BN : e / BK;
              const int kk = b_n_fast ? e / BN : e % BK;
              const int64_t gn = n0 + nn, gk = k0 + kk;
              Bs[nn * LDK + kk] = gn < p.N && gk < p.K ? B[gk * p.b_rs + gn * p.b_cs] : uint16_t{0};
            }
          }
          __syncthreads();
#pragma unroll
          for (int ks = 0; ks < BK; ks += 8) {
            const MfmaS16x4 a = *reinterpret_cast<const MfmaS16x4*>(a_frag + ks);
            const MfmaS16x4 b = *reinterpret_cast<const MfmaS16x4*>(b_frag + ks);
            acc = Mfma32x32x8<T>::run(a, b, acc);
          }
          __syncthreads();  // the tiles are rewritten by the next slice
        }
        // Straight from registers: for each i the wavefront writes 32 columns of 2 rows.
#pragma unroll
        for (int i = 0; i < 16; ++i) {
          const int64_t m = m0 + wm * 32 + mfma32_acc_row(lane, i);
          const int64_t n = n0 + wn * 32 + mfma32_acc_col(lane, i);
          if (m < p.M && n < p.N) epilogue_store<T>(p, q, Y, m, n, acc[i]);
        }
      }
    }
  }
}
#endif  // R1_HIP

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
