// The matrix-core path of the tiled GEMM (gemm_tile.cuh): fp16 / bf16 on HIP (gfx90a MFMA).
#pragma once
#include "gemm_tile_args.cuh"

namespace r1::gpu::gemm {

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

}  // namespace r1::gpu::gemm
