// The tensor-core kernel of r1::Attention (attn_wmma, CUDA sm_80+; attention.cu says when it runs):
// fp16 / bf16 with D == Dv in {32, 64, 128}, both products through nvcuda::wmma.
#pragma once
#if !defined(R1_HIP)
#include <climits>
#include <type_traits>

#include <cuda_bf16.h>
#include <mma.h>

#include "attention_params.cuh"

namespace r1::gpu {

namespace wmma = nvcuda::wmma;

template <class T>
struct WmmaType;
template <>
struct WmmaType<F16> {
  using type = __half;
};
template <>
struct WmmaType<BF16> {
  using type = __nv_bfloat16;
};

constexpr int kTcBQ = 64;  // query rows per block: 4 warps x 16
constexpr int kTcWarps = 4;
constexpr int kTcThreads = kTcWarps * 32;

// Raw 16-bit copy: dst[r * ld + c] = src[r * rs + c * cs] for r < valid, 0 for valid <= r < rows,
// c < cols. vec: cs == 1, cols % 8 == 0 and every source row 16-byte aligned (8 elements a load).
__device__ inline void stage_u16(uint16_t* dst, int ld, const uint16_t* src, int64_t rs, int64_t cs, int rows,
                                 int64_t valid, int cols, bool vec) {
  if (vec) {
    const int cv = cols / 8, n = rows * cv;
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int r = e / cv, c = (e % cv) * 8;
      uint4 x = make_uint4(0u, 0u, 0u, 0u);
      if (r < valid) x = *reinterpret_cast<const uint4*>(src + r * rs + c);
      *reinterpret_cast<uint4*>(dst + r * ld + c) = x;
    }
  } else if (cs == 1) {
    const int n = rows * cols;
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int r = e / cols, c = e % cols;
      dst[r * ld + c] = r < valid ? src[r * rs + c] : uint16_t{0};
    }
  } else {
    const int n = rows * cols;
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int c = e / rows, r = e % rows;
      dst[r * ld + c] = r < valid ? src[r * rs + c * cs] : uint16_t{0};
    }
  }
}

// Static shared memory (bytes): K and V [BK][D + 8] each (Q [64][D + 8] is staged there first),
// per warp fp32 scores [16][BK + 4] and P [16][BK + 8]. D = 64, BK = 64: 45.3 KB; D = 128, BK = 32:
// 31.8 KB; all under the 48 KB of static shared memory. Every wmma pointer is 32-byte aligned:
// row offsets are multiples of 16 rows (16 * (D + 8) * 2 bytes), column offsets multiples of 16.
template <class T, int D, int BK>
__global__ void __launch_bounds__(kTcThreads) attn_wmma(AttnParams p) {
  using W = typename WmmaType<T>::type;
  constexpr int LD = D + 8, LDS = BK + 4, LDP = BK + 8;
  static_assert(D % 16 == 0 && BK % 16 == 0 && 2 * BK >= kTcBQ, "tile shapes");
  __shared__ __align__(32) uint16_t kvbuf[2 * BK * LD];
  __shared__ __align__(32) float sbuf[kTcWarps][16 * LDS];
  __shared__ __align__(32) uint16_t pbuf[kTcWarps][16 * LDP];
  __shared__ float rowval[kTcWarps][16];
  uint16_t* kbuf = kvbuf;
  uint16_t* vbuf = kvbuf + BK * LD;

  int64_t t = blockIdx.x;
  const int64_t qt = t % p.n_qtiles;
  t /= p.n_qtiles;
  const int64_t h = t % p.H, b = t / p.H;
  const int64_t i0 = qt * kTcBQ;
  const uint16_t* qh = static_cast<const uint16_t*>(p.q) + b * p.q_sb + h * p.q_sh;
  const uint16_t* kh = static_cast<const uint16_t*>(p.k) + b * p.k_sb + h * p.k_sh;
  const uint16_t* vh = static_cast<const uint16_t*>(p.v) + b * p.v_sb + h * p.v_sh;
  uint16_t* oh = static_cast<uint16_t*>(p.o) + b * p.o_sb + h * p.o_sh;
  const int64_t mbase = b * p.m_sb + h * p.m_sh;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int r = lane >> 1, half = lane & 1;  // softmax: lanes 2r and 2r + 1 share row r of the warp
  const int64_t wrow0 = i0 + warp * 16;      // first query row of this warp
  const int64_t i = wrow0 + r;
  float* sw = sbuf[warp];
  uint16_t* pw = pbuf[warp];

  // Q tile -> fragments (kept in registers for the whole key loop).
  stage_u16(kvbuf, LD, qh + i0 * p.q_rs, p.q_rs, 1, kTcBQ, p.Sq - i0, D, p.vec_q != 0);
  // Row index of every accumulator element: a fragment loaded from a tile holding r at [r, c].
  for (int e = lane; e < 256; e += 32) sw[(e / 16) * LDS + e % 16] = static_cast<float>(e / 16);
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> qf[D / 16];
#pragma unroll
  for (int kt = 0; kt < D / 16; ++kt)
    wmma::load_matrix_sync(qf[kt], reinterpret_cast<const W*>(kvbuf + warp * 16 * LD + kt * 16), LD);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> rowid;
  wmma::load_matrix_sync(rowid, sw, LDS, wmma::mem_row_major);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> of[D / 16];
#pragma unroll
  for (int ct = 0; ct < D / 16; ++ct) wmma::fill_fragment(of[ct], 0.0f);

  float m = -INFINITY, l = 0.0f;
  const int64_t i1 = i0 + kTcBQ < p.Sq ? i0 + kTcBQ : p.Sq;
  const int64_t kend = tile_key_end(p, i1);
  constexpr int CPL = BK / 2;  // score columns per lane
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int64_t nb = kend - j0 < BK ? kend - j0 : BK;
    __syncthreads();  // Q fragments loaded / the previous tile consumed by every warp
    stage_u16(kbuf, LD, kh + j0 * p.k_js, p.k_js, p.k_ds, BK, nb, D, p.vec_k != 0);
    stage_u16(vbuf, LD, vh + j0 * p.v_rs, p.v_rs, 1, BK, nb, D, p.vec_v != 0);
    __syncthreads();
    // S = Q Kᵀ for the warp's 16 rows: Kᵀ is K [BK][D] read column-major.
#pragma unroll
    for (int nt = 0; nt < BK / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
      wmma::fill_fragment(sf, 0.0f);
#pragma unroll
      for (int kt = 0; kt < D / 16; ++kt) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::col_major> kf;
        wmma::load_matrix_sync(kf, reinterpret_cast<const W*>(kbuf + nt * 16 * LD + kt * 16), LD);
        wmma::mma_sync(sf, qf[kt], kf, sf);
      }
      wmma::store_matrix_sync(sw + nt * 16, sf, LDS, wmma::mem_row_major);
    }
    __syncwarp();
    // Online softmax: lane pair (2r, 2r + 1) owns row r, columns [half * CPL, half * CPL + CPL).
    float sv[CPL];
    float bmax = -INFINITY;
#pragma unroll
    for (int c = 0; c < CPL; ++c) {
      const int jj = half * CPL + c;
      sv[c] = masked_score(p, sw[r * LDS + jj], mbase, i, j0 + jj);
      bmax = fmaxf(bmax, sv[c]);
    }
    bmax = fmaxf(bmax, __shfl_xor_sync(0xffffffffu, bmax, 1));
    const float m_new = fmaxf(m, bmax);
    float corr = 1.0f, sum = 0.0f;
    if (m_new == -INFINITY) {
#pragma unroll
      for (int c = 0; c < CPL; ++c) sv[c] = 0.0f;
    } else {
#pragma unroll
      for (int c = 0; c < CPL; ++c) {
        sv[c] = expf(sv[c] - m_new);
        sum += sv[c];
      }
      corr = expf(m - m_new);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * corr + sum;
    m = m_new;
#pragma unroll
    for (int c = 0; c < CPL; ++c) pw[r * LDP + half * CPL + c] = T::store(sv[c]);
    if (half == 0) rowval[warp][r] = corr;
    __syncwarp();
    // O = O * corr (per row) + P V.
#pragma unroll
    for (int ct = 0; ct < D / 16; ++ct)
#pragma unroll
      for (int e = 0; e < of[ct].num_elements; ++e) of[ct].x[e] *= rowval[warp][static_cast<int>(rowid.x[e])];
#pragma unroll
    for (int kt = 0; kt < BK / 16; ++kt) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> pf;
      wmma::load_matrix_sync(pf, reinterpret_cast<const W*>(pw + kt * 16), LDP);
#pragma unroll
      for (int ct = 0; ct < D / 16; ++ct) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::row_major> vf;
        wmma::load_matrix_sync(vf, reinterpret_cast<const W*>(vbuf + kt * 16 * LD + ct * 16), LD);
        wmma::mma_sync(of[ct], pf, vf, of[ct]);
      }
    }
    __syncwarp();  // rowval and pw are rewritten next tile (after a block barrier too)
  }
  // Normalise (l = 0: NaN, see the file comment) and write 16 x 16 tiles through the score buffer.
  if (half == 0) rowval[warp][r] = 1.0f / l;
  __syncwarp();
#pragma unroll
  for (int ct = 0; ct < D / 16; ++ct) {
#pragma unroll
    for (int e = 0; e < of[ct].num_elements; ++e) of[ct].x[e] *= rowval[warp][static_cast<int>(rowid.x[e])];
    wmma::store_matrix_sync(sw, of[ct], LDS, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int rr = e / 16, c = e % 16;
      const int64_t ii = wrow0 + rr;
      if (ii < p.Sq) oh[ii * p.o_rs + ct * 16 + c] = T::store(out_value(p, sw[rr * LDS + c]));
    }
    __syncwarp();
  }
}

template <class T, int D, int BK>
void launch_wmma(const AttnParams& p, int64_t blocks, gpuStream_t s) {
  attn_wmma<T, D, BK><<<static_cast<unsigned>(blocks), kTcThreads, 0, s>>>(p);
  R1_GPU_CHECK_LAUNCH();
}

// Whether the tensor-core kernel covers this problem, and launches it.
template <class T>
bool try_wmma(AttnParams p, int64_t B, gpuStream_t s) {
  if constexpr (std::is_same_v<T, F32>) {
    return false;
  } else {
    if (p.D != p.Dv || (p.D != 32 && p.D != 64 && p.D != 128)) return false;
    p.n_qtiles = (p.Sq + kTcBQ - 1) / kTcBQ;
    const int64_t blocks = B * p.H * p.n_qtiles;
    R1_CHECK(blocks <= INT_MAX, InputError) << "Attention: too many query tiles (" << blocks << ")";
    if (p.D == 32)
      launch_wmma<T, 32, 64>(p, blocks, s);
    else if (p.D == 64)
      launch_wmma<T, 64, 64>(p, blocks, s);
    else
      launch_wmma<T, 128, 32>(p, blocks, s);
    return true;
  }
}

}  // namespace r1::gpu
#endif  // !R1_HIP
