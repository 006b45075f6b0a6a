// r1::Attention on the GPU: O = softmax(scale * Q Kᵀ + mask) V (contract: cpp/r1/passes/README.md),
// flash-attention style. One thread block per (batch, head, tile of queries); K and V tiles are
// staged in shared memory; an online softmax keeps a running max and sum per query row in fp32,
// rescaling the output accumulator when the max grows, so the [Sq, Sk] score matrix never exists.
//
// Two kernels:
//   attn_wmma (CUDA only): fp16 / bf16 with D == Dv in {32, 64, 128}. 4 warps x 16 query rows; both
//     products on tensor cores through nvcuda::wmma (16x16x16, fp32 accumulators). P is rounded to
//     the input dtype in shared memory for P @ V. The output accumulators stay in registers; the row
//     of each accumulator element is read from a fragment loaded from a [16, 16] tile holding its
//     row index, so rescaling by row does not depend on the (opaque) fragment layout.
//   attn_simt: everything else (fp32, other head sizes, all of HIP): 32 query rows x 8 threads per row,
//     fp32 tiles in shared memory, any D and Dv up to 256.
// Both read Q, K, V, O and the mask through per-(batch, head) offsets and row strides, so the "bshd"
// layouts, k_transposed and B / H broadcasting (stride 0) need no copies. Causal attention skips the
// key tiles wholly above the diagonal of a query tile. A row whose every score is -inf ends with
// l = 0 and O = 0 * (1 / 0) = NaN, as the unfused softmax of an all -inf row; finite masks (lowest)
// give the uniform average by themselves.
#include <climits>
#include <cmath>
#include <string>

#include "attention_params.cuh"
#include "attention_wmma.cuh"
#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

// ---------------------------------------------------------------------------------------------
// SIMT kernel.
constexpr int kSimtBQ = 32;                       // query rows per block
constexpr int kSimtTPR = 8;                       // threads per query row
constexpr int kSimtThreads = kSimtBQ * kSimtTPR;  // 256
constexpr int kSimtCols = kMaxHead / kSimtTPR;    // output columns per thread (registers)

size_t simt_smem_floats(int64_t D, int64_t Dv, int bk) {
  const int64_t wide = D > Dv ? D : Dv;
  return static_cast<size_t>(kSimtBQ * (D + 1) + bk * (wide + 1) + kSimtBQ * (bk + 1));
}

// dst[r * ld + c] = src[r * rs + c * cs] for r < valid, 0 for valid <= r < rows; c < cols. Walks the
// contiguous direction of src fastest (c when cs == 1, else r).
template <class T>
__device__ void stage_f32(float* dst, int ld, const typename T::storage* src, int64_t rs, int64_t cs, int rows,
                          int64_t valid, int cols) {
  const int n = rows * cols;
  if (cs == 1) {
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int r = e / cols, c = e % cols;
      dst[r * ld + c] = r < valid ? T::load(src[r * rs + c]) : 0.0f;
    }
  } else {
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
      const int c = e / rows, r = e % rows;
      dst[r * ld + c] = r < valid ? T::load(src[r * rs + c * cs]) : 0.0f;
    }
  }
}

// Dynamic shared memory: Q [BQ][D + 1], K or V [bk][max(D, Dv) + 1], scores / P [BQ][bk + 1] (fp32).
template <class T>
__global__ void __launch_bounds__(kSimtThreads) attn_simt(AttnParams p, int bk) {
  using S = typename T::storage;
  extern __shared__ float smem[];
  const int D = static_cast<int>(p.D), Dv = static_cast<int>(p.Dv);
  const int ldq = D + 1, ldkv = (D > Dv ? D : Dv) + 1, lds = bk + 1;
  float* qs = smem;
  float* kv = qs + kSimtBQ * ldq;
  float* ss = kv + bk * ldkv;

  int64_t t = blockIdx.x;
  const int64_t qt = t % p.n_qtiles;
  t /= p.n_qtiles;
  const int64_t h = t % p.H, b = t / p.H;
  const int64_t i0 = qt * kSimtBQ;
  const S* qh = static_cast<const S*>(p.q) + b * p.q_sb + h * p.q_sh;
  const S* kh = static_cast<const S*>(p.k) + b * p.k_sb + h * p.k_sh;
  const S* vh = static_cast<const S*>(p.v) + b * p.v_sb + h * p.v_sh;
  S* oh = static_cast<S*>(p.o) + b * p.o_sb + h * p.o_sh;
  const int64_t mbase = b * p.m_sb + h * p.m_sh;

  const int tid = threadIdx.x, r = tid / kSimtTPR, tr = tid % kSimtTPR;
  const int64_t i = i0 + r;
  stage_f32<T>(qs, ldq, qh + i0 * p.q_rs, p.q_rs, 1, kSimtBQ, p.Sq - i0, D);

  float acc[kSimtCols];
#pragma unroll
  for (int c = 0; c < kSimtCols; ++c) acc[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  const int64_t i1 = i0 + kSimtBQ < p.Sq ? i0 + kSimtBQ : p.Sq;
  const int64_t kend = tile_key_end(p, i1);
  for (int64_t j0 = 0; j0 < kend; j0 += bk) {
    const int64_t nb = kend - j0 < bk ? kend - j0 : bk;
    __syncthreads();  // the previous tile's K / V and P are consumed (first pass: nothing to wait for)
    stage_f32<T>(kv, ldkv, kh + j0 * p.k_js, p.k_js, p.k_ds, bk, nb, D);
    __syncthreads();
    for (int e = tid; e < kSimtBQ * bk; e += kSimtThreads) {
      const int rr = e / bk, jj = e % bk;
      const float* qr = qs + rr * ldq;
      const float* kr = kv + jj * ldkv;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += qr[d] * kr[d];
      ss[rr * lds + jj] = dot;
    }
    __syncthreads();  // scores complete, K no longer read: V goes into the same buffer
    stage_f32<T>(kv, ldkv, vh + j0 * p.v_rs, p.v_rs, 1, bk, nb, Dv);
    // Online softmax over this tile for row r, by its kSimtTPR threads (adjacent lanes).
    float* sr = ss + r * lds;
    float bmax = -INFINITY;
    for (int jj = tr; jj < bk; jj += kSimtTPR) {
      const float s = masked_score(p, sr[jj], mbase, i, j0 + jj);
      sr[jj] = s;
      bmax = fmaxf(bmax, s);
    }
#pragma unroll
    for (int off = kSimtTPR / 2; off > 0; off /= 2) bmax = fmaxf(bmax, R1_SHFL_XOR(bmax, off));
    const float m_new = fmaxf(m, bmax);
    float corr = 1.0f, sum = 0.0f;
    if (m_new == -INFINITY) {  // nothing finite yet in this row
      for (int jj = tr; jj < bk; jj += kSimtTPR) sr[jj] = 0.0f;
    } else {
      for (int jj = tr; jj < bk; jj += kSimtTPR) {
        const float e = expf(sr[jj] - m_new);
        sr[jj] = e;
        sum += e;
      }
      corr = expf(m - m_new);  // 0 when m was -inf
    }
#pragma unroll
    for (int off = kSimtTPR / 2; off > 0; off /= 2) sum += R1_SHFL_XOR(sum, off);
    l = l * corr + sum;
    m = m_new;
    __syncthreads();  // V staged, P of every row written
#pragma unroll
    for (int c = 0; c < kSimtCols; ++c) acc[c] *= corr;
    for (int jj = 0; jj < nb; ++jj) {
      const float pj = sr[jj];
      const float* vr = kv + jj * ldkv;
#pragma unroll
      for (int c = 0; c < kSimtCols; ++c) {
        const int col = tr + c * kSimtTPR;
        if (col < Dv) acc[c] += pj * vr[col];
      }
    }
  }
  if (i < p.Sq) {
    const float inv = 1.0f / l;  // l = 0 (no finite score): 0 * inf = NaN, as the unfused softmax
#pragma unroll
    for (int c = 0; c < kSimtCols; ++c) {
      const int col = tr + c * kSimtTPR;
      if (col < Dv) oh[i * p.o_rs + col] = T::store(out_value(p, acc[c] * inv));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.

// Where head (b, h) and its rows live in one operand of shape s: [B', H', rows, cols] ("bhsd") or
// [B', rows, H', cols] ("bshd"); B' / H' of 1 broadcast (stride 0).
struct HeadIndex {
  int64_t sb = 0, sh = 0, rs = 0;
  HeadIndex(const Shape& s, bool bshd) {
    const int64_t nb = s[0], nh = bshd ? s[2] : s[1], rows = bshd ? s[1] : s[2], cols = s[3];
    sb = nb == 1 ? 0 : nh * rows * cols;
    sh = nh == 1 ? 0 : (bshd ? cols : rows * cols);
    rs = bshd ? nh * cols : cols;
  }
};

bool aligned16(const void* ptr, std::initializer_list<int64_t> strides) {
  if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return false;
  for (int64_t s : strides)
    if (s % 8 != 0) return false;
  return true;
}

void attention(KernelContext& ctx) {
  const Tensor& tq = ctx.input(0);
  const Tensor& tk = ctx.input(1);
  const Tensor& tv = ctx.input(2);
  const std::string label = ctx.node().label();
  R1_CHECK(tk.dtype() == tq.dtype() && tv.dtype() == tq.dtype(), InputError)
      << "Attention " << label << ": Q, K and V must share a dtype (got " << dtype_name(tq.dtype()) << ", "
      << dtype_name(tk.dtype()) << ", " << dtype_name(tv.dtype()) << ")";
  const Shape &qs = tq.shape(), &ks = tk.shape(), &vs = tv.shape();
  R1_CHECK(qs.size() == 4 && ks.size() == 4 && vs.size() == 4, InputError)
      << "Attention " << label << ": Q, K and V must be 4-D (got ranks " << qs.size() << ", " << ks.size() << ", "
      << vs.size() << ")";
  const bool kt = ctx.attrs().get_int("k_transposed", 0) != 0;
  const std::string in_layout = ctx.attrs().get_string("qkv_layout", "bhsd");
  const std::string out_layout = ctx.attrs().get_string("out_layout", "bhsd");
  R1_CHECK((in_layout == "bhsd" || in_layout == "bshd") && (out_layout == "bhsd" || out_layout == "bshd"), ModelError)
      << "Attention " << label << ": layouts '" << in_layout << "' / '" << out_layout
      << "' are not supported (bhsd or bshd)";
  const bool in_bshd = in_layout == "bshd", out_bshd = out_layout == "bshd";
  R1_CHECK(!(in_bshd && kt), ModelError) << "Attention " << label << ": k_transposed=1 needs qkv_layout='bhsd'";
  const int64_t causal = ctx.attrs().get_int("causal", 0);
  const int nan_to_zero = ctx.attrs().get_int("nan_to_zero", 0) != 0 ? 1 : 0;
  R1_CHECK(causal == 0 || causal == 1, ModelError)
      << "Attention " << label << ": causal must be 0 or 1, got " << causal;
  const int sa = in_bshd ? 1 : 2, ha = in_bshd ? 2 : 1;
  const int64_t D = qs[3], Sq = qs[sa], Sk = kt ? ks[3] : ks[sa], Dv = vs[3];
  R1_CHECK((kt ? ks[2] : ks[3]) == D && vs[sa] == Sk, InputError)
      << "Attention " << label << ": Q " << shape_str(qs) << ", K " << shape_str(ks) << " and V " << shape_str(vs)
      << " do not agree";
  Tensor& out = ctx.output(0);
  const Shape& os = out.shape();
  R1_CHECK(os.size() == 4, InputError) << "Attention " << label << ": output must be 4-D";
  const int64_t B = os[0], H = os[out_bshd ? 2 : 1];
  R1_CHECK(os[out_bshd ? 1 : 2] == Sq && os[3] == Dv, InputError)
      << "Attention " << label << ": output shape " << shape_str(os) << " does not match Q " << shape_str(qs)
      << " and V " << shape_str(vs);
  for (const Shape* s : {&qs, &ks, &vs})
    R1_CHECK(((*s)[0] == 1 || (*s)[0] == B) && ((*s)[ha] == 1 || (*s)[ha] == H), InputError)
        << "Attention " << label << ": batch and head dims of " << shape_str(*s) << " do not broadcast to [" << B
        << ", " << H << "]";
  R1_CHECK(D <= kMaxHead && Dv <= kMaxHead, InputError)
      << "Attention " << label << ": head sizes up to " << kMaxHead << " on " R1_GPU_BACKEND_NAME ", got D = " << D
      << ", Dv = " << Dv;

  AttnParams p{};
  p.causal = static_cast<int>(causal);
  p.nan_to_zero = nan_to_zero;
  p.scale = ctx.attrs().has("scale") ? ctx.attrs().get_float("scale", 1.0f)
                                     : static_cast<float>(1.0 / std::sqrt(static_cast<double>(D > 1 ? D : 1)));
  p.H = H;
  p.Sq = Sq;
  p.Sk = Sk;
  p.D = D;
  p.Dv = Dv;
  const HeadIndex qi(qs, in_bshd), vi(vs, in_bshd), oi(os, out_bshd);
  const HeadIndex ki(ks, in_bshd);  // k_transposed: [B, H, D, Sk], rows are dims
  p.q_sb = qi.sb, p.q_sh = qi.sh, p.q_rs = qi.rs;
  p.k_sb = ki.sb, p.k_sh = ki.sh;
  p.k_js = kt ? 1 : ki.rs;
  p.k_ds = kt ? ki.rs : 1;
  p.v_sb = vi.sb, p.v_sh = vi.sh, p.v_rs = vi.rs;
  p.o_sb = oi.sb, p.o_sh = oi.sh, p.o_rs = oi.rs;
  if (ctx.has_input(3)) {
    const Tensor& tm = ctx.input(3);
    R1_CHECK(is_float(tm.dtype()), InputError)
        << "Attention " << label << ": mask of dtype " << dtype_name(tm.dtype()) << " (needs a float dtype)";
    Shape ms = tm.shape();
    R1_CHECK(ms.size() <= 4, InputError) << "Attention " << label << ": mask of rank " << ms.size() << " (at most 4)";
    ms.insert(ms.begin(), 4 - ms.size(), 1);
    const int64_t full[4] = {B, H, Sq, Sk};
    for (int d = 0; d < 4; ++d)
      R1_CHECK(ms[d] == 1 || ms[d] == full[d], InputError)
          << "Attention " << label << ": mask of shape " << shape_str(tm.shape())
          << " does not broadcast to the scores " << shape_str(Shape(full, full + 4));
    R1_CHECK(tm.numel() > 0 || out.numel() == 0 || Sk == 0, InputError) << "Attention " << label << ": empty mask";
    int64_t st[4], stride = 1;
    for (int d = 3; d >= 0; --d) {
      st[d] = ms[d] == 1 ? 0 : stride;
      stride *= ms[d];
    }
    p.mask = tm.raw();
    p.mask_kind = float_kind(tm.dtype());
    p.m_sb = st[0], p.m_sh = st[1], p.m_rs = st[2], p.m_cs = st[3];
  }
  if (out.numel() == 0) return;
  KernelLaunch env(ctx);
  if (Sk == 0) {  // softmax over no keys times an empty V: zeros, as the unfused graph
    R1_GPU_CHECK(gpuMemsetAsync(out.raw(), 0, out.nbytes(), env.stream()));
    return;
  }
  p.q = tq.raw();
  p.k = tk.raw();
  p.v = tv.raw();
  p.o = out.raw();
  p.vec_q = aligned16(p.q, {p.q_sb, p.q_sh, p.q_rs});
  p.vec_k = !kt && aligned16(p.k, {p.k_sb, p.k_sh, p.k_js});
  p.vec_v = aligned16(p.v, {p.v_sb, p.v_sh, p.v_rs});
  dispatch_float_types(tq.dtype(), "Attention", [&](auto tag) {
    using T = decltype(tag);
#if !defined(R1_HIP)
    if (try_wmma<T>(p, B, env.stream())) return;
#endif
    int bk = 64;
    while (bk > 8 && simt_smem_floats(D, Dv, bk) * sizeof(float) > 48 * 1024) bk /= 2;
    const size_t smem = simt_smem_floats(D, Dv, bk) * sizeof(float);
    p.n_qtiles = (Sq + kSimtBQ - 1) / kSimtBQ;
    const int64_t blocks = B * H * p.n_qtiles;
    R1_CHECK(blocks <= INT_MAX, InputError) << "Attention " << label << ": too many query tiles (" << blocks << ")";
    attn_simt<T><<<static_cast<unsigned>(blocks), kSimtThreads, smem, env.stream()>>>(p, bk);
    R1_GPU_CHECK_LAUNCH();
  });
}

// Float Q, K, V (one dtype), mask and output, and head sizes the kernels hold where the static
// shapes tell; anything else runs on the CPU.
bool attention_supported(const Node& n) {
  if (n.inputs.size() < 3 || !n.inputs[0] || !n.inputs[1] || !n.inputs[2]) return false;
  for (const Value* v : n.inputs)
    if (v && !is_float(v->dtype)) return false;
  for (const Value* v : n.outputs)
    if (v && !is_float(v->dtype)) return false;
  const DType t = n.inputs[0]->dtype;
  if (n.inputs[1]->dtype != t || n.inputs[2]->dtype != t) return false;
  auto dim = [](const Value* v, size_t i) -> int64_t {
    return v->has_shape && v->shape.size() == 4 ? v->shape[i] : -1;
  };
  const int64_t D = dim(n.inputs[0], 3), Dv = dim(n.inputs[2], 3);
  return !(is_known(D) && D > kMaxHead) && !(is_known(Dv) && Dv > kMaxHead);
}

}  // namespace

void register_attention_kernels(KernelTable& t) { t.add("Attention", attention, "r1", 0, attention_supported); }
}  // namespace r1::gpu
