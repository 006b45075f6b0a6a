// Internal declarations of the conv family's CPU kernels (split over conv*.cc; fused_conv.cc and pool.cc
// use them too).
//
//   ConvArgs a;  a.x = X; a.w = W; a.y = Y; a.n = N; a.c = C; a.m = M; a.group = G; a.geom = g;
//   a.ep.bias = B; a.ep.act = ConvAct::kRelu; a.residual = R;   // optional fused epilogue
//   conv_forward_f32(a, ctx.pool());                             // Conv and r1::FusedConv share this
//
// The first part is plain C (no std types) because the *_avx512.cc files include it: they must not
// instantiate std templates (CMakeLists.txt says why). Define R1_CONV_PLAIN_ONLY before including.
#pragma once
#include <cstdint>

namespace r1::cpu {

// The activation a fused conv applies to its output tiles (cpp/r1/passes/README.md lists them).
enum class ConvAct : int {
  kNone,
  kRelu,
  kLeakyRelu,
  kClip,
  kHardSigmoid,
  kHardSwish,
  kSigmoid,
  kSilu,
  kTanh,
  kGelu,
  kGeluTanh
};

// y = act(acc + bias + residual): alpha/beta are LeakyRelu's slope, Clip's min/max, HardSigmoid's a/b.
struct ConvEpilogue {
  const float* bias = nullptr;  // [M] (whole conv) or nullptr
  ConvAct act = ConvAct::kNone;
  float alpha = 0.f, beta = 0.f;
};

// 2-D geometry of one conv/pool plane (1-D runs as H = 1).
struct Plane2d {
  int64_t H, W, KH, KW, OH, OW, sh, sw, dh, dw, ph, pw;
};

// Kernels compiled for AVX-512 (conv_*_avx512.cc); call only when cpu_features().has_avx512_kernels().
namespace conv_avx512 {
// C[M,N] (row stride ldc) = [C +] A[M,K] (row stride lda) * B[K,N] (row stride ldb). When `ep` is
// non-null (the last K block) the epilogue runs on the tile in registers: bias[i] (bias: the tile's
// first row, or nullptr) and R[i * ldr + j] (nullptr: none) are added before the activation.
void gemm_tile(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr);
// The same product from Bt = B transposed (Bt[j * ldbt + k]), vectorised along K: for outputs with
// few columns (7x7 maps), where 16-column vectors would leave lanes idle.
void gemm_tile_ip(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C,
                  int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R, int64_t ldr);
// y[j] = act(y[j] + b + r[j]) for j < n (r may be nullptr).
void epilogue_row(float* y, int64_t n, float b, const float* r, const ConvEpilogue& ep);
// dst[i] = src[i * stride] for i < n.
void gather_row(const float* src, int64_t stride, int64_t n, float* dst);
// A plane copied with its padding (a fill value) so kernel taps need no bounds checks: rows
// (OH - 1) * sh + (KH - 1) * dh + 1 from input row -ph, each row_len floats (a multiple of 16). Stride-2
// planes keep each row as [even columns | odd columns] (`half` floats each): stride-2 taps are plain loads.
struct PaddedPlane {
  int64_t rows, row_len, half;
  bool split;
};
PaddedPlane padded_plane_geometry(const Plane2d& q);
// Padded rows [r0, r1) into P (64-byte aligned): row r at P + (r - r0) * row_len.
void build_padded_rows(const float* x, const Plane2d& q, const PaddedPlane& p, float fill, int64_t r0, int64_t r1,
                       float* P);
// Floats of scratch the two plane kernels below need for geometry q (a padded copy of the plane).
int64_t plane_scratch_floats(const Plane2d& q);
// One depthwise output plane with the epilogue fused: y = act(conv(x, w) + b + r) (r may be nullptr).
void depthwise_plane(const float* x, const float* w, float b, const float* r, float* y, const Plane2d& q,
                     const ConvEpilogue& ep, float* scratch);
// One max-pool output plane (pads never win: they read as -inf).
void maxpool_plane(const float* x, float* y, const Plane2d& q, float* scratch);
// Winograd F(2x2, 3x3) transforms (conv_wino_avx512.cc; conv_winograd.cc drives them). Channel pair
// p = m * C + c; U, V and Y' hold 16 planes (xi = 4 * row + column of the 4x4 transform).
int64_t wino_scratch_floats(const Plane2d& q, int64_t TH, int64_t TW, int64_t tile_rows);
// U[xi * pairs + p] for pairs [p0, p1) of the weights w[p * 9 + tap].
void wino_weights(const float* w, int64_t p0, int64_t p1, int64_t pairs, float* U);
// V[(xi * C + c) * tb + t] for the tiles of tile rows [ty0, ty1) (tb of them, row-major) of x[C][IS].
void wino_input(const float* x, int64_t C, int64_t IS, const Plane2d& q, int64_t TH, int64_t TW, int64_t ty0,
                int64_t ty1, float* V, float* scratch);
// Output channels [m0, m1) of tile rows [ty0, ty1) from Yp[(xi * M + m) * tb + t] into y[M][OH][OW], with
// bias[m] (or nullptr), residual R (y's layout, or nullptr) and the activation.
void wino_output(const float* Yp, int64_t M, int64_t m0, int64_t m1, int64_t TW, int64_t ty0, int64_t ty1, float* y,
                 int64_t OH, int64_t OW, const float* bias, const float* R, const ConvEpilogue& ep);

// bf16 tiles (conv_bf16_avx512.cc): call only when cpu_features().avx512_bf16 too. bf16 values are
// uint16 bits (round to nearest even from fp32); products are exact in fp32, sums accumulate in fp32.
// C[M,N] (row stride ldc) = [C +] A * B over KP pairs of K, with the epilogue as in gemm_tile.
// A: bf16 weight rows, pair k of row i at A + i * lda + 2k. Bp: the pair rows of B (uint32: low half
// row 2k, high half row 2k + 1; row stride ldbp), zero padded to a multiple of 16 columns.
void gemm_tile_bf16(int64_t M, int64_t N, int64_t KP, const uint16_t* A, int64_t lda, const uint32_t* Bp, int64_t ldbp,
                    float* C, int64_t ldc, bool accumulate, const ConvEpilogue* ep, const float* bias, const float* R,
                    int64_t ldr);
// C[M,N] = A[M,K] * Bt[N,K]^T with both bf16 along K (K a multiple of 32, both zero past the data),
// the epilogue `ep` (non-null) applied after the last K slice.
void gemm_tile_ip_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const uint16_t* Bt,
                       int64_t ldbt, float* C, int64_t ldc, const ConvEpilogue* ep, const float* bias, const float* R,
                       int64_t ldr);
// dst[j] = pair(bf16(r0[j]), bf16(r1[j])) for j < n (r1 == nullptr: high halves 0), 0 for n <= j < n_pad
// (n_pad a multiple of 16).
void pack_bf16_pairs(const float* r0, const float* r1, int64_t n, int64_t n_pad, uint32_t* dst);
// The bf16 B tile of im2col rows [k0, k1) (row k = (c, kh, kw) of the plane x) and output columns
// [j0, j0 + nc), built in one pass: pair row p at dst + p * ldt holds rows k0 + 2p (low halves) and
// k0 + 2p + 1 (high halves; 0 past k1), zero from nc up to ldt.
void im2col_bf16_pairs(const float* x, const Plane2d& q, int64_t k0, int64_t k1, int64_t j0, int64_t nc, int64_t ldt,
                       uint32_t* dst);
// Columns [kb, ke) (multiples of 32) of the inner-product form's Bt[OS][K32] in bf16 (column k =
// (channel, tap) of x, zero from K on), gathered 16 at a time. tab[j * period + kk] (period = 16 * KS):
// the offset in x of tap kk % KS of output column j in channel kk / KS, or -1 for padding (read as 0);
// channels 16 on repeat it 16 * IS further on.
void ip_columns_bf16(const float* x, const int32_t* tab, int64_t period, int64_t KS, int64_t IS, int64_t K, int64_t OS,
                     int64_t kb, int64_t ke, uint16_t* Bt, int64_t ldbt);
// dst[j] = bf16(src[j]) for j < n, 0 for n <= j < n_pad.
void to_bf16_row(const float* src, int64_t n, int64_t n_pad, uint16_t* dst);
}  // namespace conv_avx512

}  // namespace r1::cpu

#if defined(__AVX512F__) && defined(R1_CONV_PLAIN_ONLY)
#include <immintrin.h>

#include "r1/cpu/gemm/act_avx512.h"
namespace r1::cpu::conv_avx512 {
using gemm::tail_mask16;
// Vector activations for the epilogues: the GEMM epilogue's (r1/cpu/gemm/act_avx512.h, static, so no
// AVX-512 copy can be picked by the linker for a baseline caller), so a fused conv and a fused matmul
// compute an activation identically.
static inline __m512 act_vec(__m512 v, ConvAct act, float alpha, float beta) {
  switch (act) {
    case ConvAct::kNone:
      return v;
    case ConvAct::kRelu:
      return _mm512_max_ps(v, _mm512_setzero_ps());
    case ConvAct::kLeakyRelu: {
      __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(alpha));
    }
    case ConvAct::kClip:
      return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(alpha)), _mm512_set1_ps(beta));
    case ConvAct::kHardSigmoid: {
      __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(alpha), _mm512_set1_ps(beta));
      return _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(1.f));
    }
    case ConvAct::kHardSwish: {
      __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.f / 6), _mm512_set1_ps(0.5f));
      return _mm512_mul_ps(v, _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(1.f)));
    }
    case ConvAct::kSigmoid:
      return gemm::sigmoid16(v);
    case ConvAct::kSilu:
      return gemm::x_sigmoid16(v, v);
    case ConvAct::kTanh:
      return gemm::tanh16(v);
    case ConvAct::kGelu:
      return gemm::gelu_erf16(v);
    case ConvAct::kGeluTanh:
      return gemm::gelu_tanh16(v);
  }
  return v;
}
}  // namespace r1::cpu::conv_avx512
#endif

#ifndef R1_CONV_PLAIN_ONLY
#include <memory>
#include <string>
#include <vector>

#include "r1/backend/kernel.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {

// A forward convolution in fp32, NCHW in and out, with the fused epilogue.
struct ConvArgs {
  const float* x = nullptr;         // [n, c, *in]
  const float* w = nullptr;         // [m, c / group, *k]
  float* y = nullptr;               // [n, m, *out]
  const float* residual = nullptr;  // y's shape, or nullptr
  int64_t n = 0, c = 0, m = 0, group = 1;
  conv_geom::Geom geom;
  ConvEpilogue ep;
};
// Winograd F(2x2, 3x3) (conv_winograd.cc): 3x3 stride-1 convs with enough channels and tiles.
bool winograd_applies(const ConvArgs& a);
void conv_winograd(const ConvArgs& a, ThreadPool& pool);
// How a Winograd conv splits into tasks: blocks of tile rows (V and Y' of a block stay in L2) times
// chunks of output channels when the blocks alone cannot feed the threads (14x14 maps give 4 blocks:
// on 2 threads one would idle a quarter of the time, and thinner blocks would waste vector lanes).
struct WinoSplit {
  int64_t rows_per_block = 1, blocks = 1, m_chunks = 1, mc = 0;
  int64_t tasks() const { return blocks * m_chunks; }
};
WinoSplit plan_wino_split(int64_t TH, int64_t TW, int64_t C, int64_t M, int threads);
// Picks the algorithm by shape: depthwise, 1x1 as a direct GEMM, or im2col + GEMM per tile.
void conv_forward_f32(const ConvArgs& a, ThreadPool& pool);

// precision="bf16" (conv_gemm.cc): true where this CPU has AVX512-BF16 and the conv is a GEMM one
// (not depthwise, at least one input channel); elsewhere callers run conv_forward_f32.
bool conv_bf16_applies(const ConvArgs& a);
// The conv with bf16 products and fp32 accumulation (bias, residual and activation in fp32), from the
// weights already in bf16: row i (output channel i, Cg * KS values) at wb + i * ldw, zero from Cg * KS
// up to a multiple of 32 (ldw >= that, see ConvWeightsBf16).
void conv_forward_bf16(const ConvArgs& a, const uint16_t* wb, int64_t ldw, ThreadPool& pool);
// Winograd F(2x2, 3x3) with bf16 products (conv_bf16_winograd.cc), where winograd_applies(a): from the
// transformed weights in bf16, U[xi][m] a row of C values at ub + (xi * M + m) * ldu.
void conv_winograd_bf16(const ConvArgs& a, const uint16_t* ub, int64_t ldu, ThreadPool& pool);

// The bf16 copy of a conv's weights W[M, K] (conv_bf16.cc), rows padded as conv_forward_bf16 needs,
// or with winograd=true (K = C, 3x3 kernels) of their Winograd transform, as conv_winograd_bf16 needs.
struct ConvWeightsBf16 {
  const uint16_t* p = nullptr;
  int64_t ld = 0;
  std::shared_ptr<const std::vector<uint16_t>> hold;  // keeps p alive
};
// `w_tensor` is the node's weight input, `w` its values in fp32. A graph constant's copy is made once
// and cached for as long as the constant's buffer lives (constants are immutable); any other weight
// is converted on every call.
ConvWeightsBf16 conv_weights_bf16(const KernelContext& ctx, const Tensor& w_tensor, const float* w, int64_t M,
                                  int64_t K, bool winograd, ThreadPool& pool);

// Conv (fused=false) and r1::FusedConv (fused=true: activation attrs and input 3, the residual).
void run_conv(KernelContext& ctx, bool fused);

// The kernel dims of a Conv node (attribute kernel_shape, or the weight's spatial dims).
std::vector<int64_t> conv_kernel_dims(const KernelContext& ctx, const Shape& ws);
// Parses activation / act_alpha / act_beta into ep (bias untouched).
void parse_conv_activation(const AttributeMap& attrs, ConvEpilogue* ep);

// Portable scalar epilogue, for CPUs without the AVX-512 kernels.
void epilogue_row_ref(float* y, int64_t n, float b, const float* r, const ConvEpilogue& ep);

}  // namespace r1::cpu
#endif
