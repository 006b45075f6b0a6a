// Conv on the GPU (float32 / float16 / bfloat16, fp32 accumulation), also the forward conv of r1::FusedConv
// (fused_conv.cu). CPU references: cpp/r1/cpu/kernels/conv*.cc, fused_conv.cc.
//
// Conv is an implicit GEMM per group: Y_g[Mg, P] = W_g[Mg, K] x patches[K, P], with P = N * OD * OH * OW
// output pixels (the batch folded into the pixels) and K = Cg * KD * KH * KW. A block computes a
// 64 (output channels) x 64 (pixels) tile; each K slice of 16 stages the weight slice and the input
// patch slice in shared memory, the patch gathered straight from X (zero outside the padded input), so
// no im2col buffer exists. The epilogue adds the bias and the residual and applies the activation to
// the fp32 accumulators before the only store. Convs with one input channel per group (depthwise, any
// channel multiplier) take a direct kernel, one thread per output element. 1-D and 2-D convs run as
// 3-D with leading unit dims.
//
// r1::FusedConv (contract: cpp/r1/passes/README.md): Y = act(Conv(X, W, B) + residual). A residual of
// Y's shape is read in the epilogue; one that broadcasts (or enlarges Y) takes a second pass: the conv
// goes to fp32 scratch, then y = act(expand(conv) + expand(residual)), as the CPU kernel does.
// precision="bf16" rounds X and W to bf16 before the products (fp32 accumulation) where the CPU kernel
// does (not for depthwise convs of rank <= 2). A node whose weight is a CPU-prepacked blob stays on the
// CPU (the supports predicate), and the kernel refuses it with ModelError.
#include <string>

#include "conv_epilogue.cuh"
#include "conv_kernels.h"
#include "elementwise.cuh"
#include "families.h"
#include "row_reduce.cuh"
#include "conv_util.cuh"

namespace r1::gpu {
namespace {

// ---------------------------------------------------------------- geometry

// One conv, as 3-D (1-D / 2-D convs have leading unit dims: size 1, kernel 1, stride 1, no pad).
struct ConvDims {
  int64_t N, C, M, G, Cg, Mg;
  int64_t ID, IH, IW, OD, OH, OW;
  int KD, KH, KW;
  int sd, sh, sw, dd, dh, dw, pd, ph, pw;
  int KS, K;          // KS = KD * KH * KW taps, K = Cg * KS (the GEMM depth; < 2^31, checked)
  int64_t IS, OS, P;  // input / output plane sizes, P = N * OS
  bool round_bf16;    // precision="bf16": X and W rounded to bf16 before the products
};

__device__ __forceinline__ float round_to_bf16(float v) { return BF16::load(BF16::store(v)); }

// ---------------------------------------------------------------- implicit GEMM

constexpr int kBM = 64;  // output channels per block
constexpr int kBN = 64;  // output pixels per block
constexpr int kBK = 16;  // K slice
constexpr int kConvThreads = 256;
constexpr int kTM = kBM / 16;  // accumulators per thread along M (rows ty + 16 i)
constexpr int kTN = kBN / 16;  // accumulators per thread along N (columns tx + 16 j)
static_assert(kBM * kBK == 4 * kConvThreads && kBN * kBK == 4 * kConvThreads, "tile loads: 4 per thread");

// T: X / W / bias / residual storage; O: Y's storage (T, or F32 for the fp32 scratch of the broadcast
// residual path). residual: Y's layout and shape, or nullptr.
template <class T, class O>
__global__ void __launch_bounds__(kConvThreads)
    conv_igemm_kernel(const typename T::storage* __restrict__ x, const typename T::storage* __restrict__ w,
                      const typename T::storage* __restrict__ bias, const typename T::storage* __restrict__ residual,
                      typename O::storage* __restrict__ y, ConvDims s, ActParams act, int64_t m_tiles) {
  __shared__ float As[kBK][kBM + 1];  // +1: the transposed stores of a warp hit distinct banks
  __shared__ float Bs[kBK][kBN];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;    // compute: rows ty + 16 i, columns tx + 16 j
  const int ak = tid % kBK, am = tid / kBK;  // A loads: column ak, rows am + 16 i
  const int bc = tid % kBN, br = tid / kBN;  // B loads: column bc, rows br + 4 i
  const int64_t p0 = static_cast<int64_t>(blockIdx.x) * kBN;
  const int KHW = s.KH * s.KW;

  // The output pixel this thread gathers for (fixed for the whole block).
  const int64_t p = p0 + bc;
  const bool p_ok = p < s.P;
  int64_t n = 0, id0 = 0, ih0 = 0, iw0 = 0;
  if (p_ok) {
    n = p / s.OS;
    int64_t r = p - n * s.OS;
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    id0 = od * s.sd - s.pd;
    ih0 = oh * s.sh - s.ph;
    iw0 = ow * s.sw - s.pw;
  }

  for (int64_t gy = blockIdx.y; gy < s.G * m_tiles; gy += gridDim.y) {
    const int64_t g = gy / m_tiles;
    const int64_t m0 = (gy - g * m_tiles) * kBM;
    const typename T::storage* xg = x + (n * s.C + g * s.Cg) * s.IS;  // only read when p_ok
    const typename T::storage* wg = w + g * s.Mg * s.K;
    float acc[kTM][kTN];
#pragma unroll
    for (int i = 0; i < kTM; ++i)
#pragma unroll
      for (int j = 0; j < kTN; ++j) acc[i][j] = 0.f;

    for (int k0 = 0; k0 < s.K; k0 += kBK) {
      // Weight slice: W_g[m0 + row][k0 + ak], stored transposed (As[k][m]).
#pragma unroll
      for (int i = 0; i < kBM / 16; ++i) {
        const int row = am + 16 * i;
        const int k = k0 + ak;
        float v = 0.f;
        if (m0 + row < s.Mg && k < s.K) v = T::load(wg[(m0 + row) * s.K + k]);
        if (s.round_bf16) v = round_to_bf16(v);
        As[ak][row] = v;
      }
      // Patch slice: row k = (c, kd, kh, kw) of column p, zero in the padding.
#pragma unroll
      for (int i = 0; i < kBK / 4; ++i) {
        const int row = br + 4 * i;
        const int k = k0 + row;
        float v = 0.f;
        if (p_ok && k < s.K) {
          const int c = k / s.KS;
          int r = k - c * s.KS;
          const int kd = r / KHW;
          r -= kd * KHW;
          const int kh = r / s.KW;
          const int kw = r - kh * s.KW;
          const int64_t id = id0 + static_cast<int64_t>(kd) * s.dd;
          const int64_t ih = ih0 + static_cast<int64_t>(kh) * s.dh;
          const int64_t iw = iw0 + static_cast<int64_t>(kw) * s.dw;
          if (id >= 0 && id < s.ID && ih >= 0 && ih < s.IH && iw >= 0 && iw < s.IW) {
            v = T::load(xg[c * s.IS + (id * s.IH + ih) * s.IW + iw]);
            if (s.round_bf16) v = round_to_bf16(v);
          }
        }
        Bs[row][bc] = v;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a[kTM], b[kTN];
#pragma unroll
        for (int i = 0; i < kTM; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < kTN; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < kTM; ++i)
#pragma unroll
          for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }

    // Epilogue: y[n, g * Mg + m, pixel] = act(acc + bias + residual).
#pragma unroll
    for (int i = 0; i < kTM; ++i) {
      const int64_t m = m0 + ty + 16 * i;
      if (m >= s.Mg) continue;
      const int64_t mg = g * s.Mg + m;
      const float b = bias ? T::load(bias[mg]) : 0.f;
#pragma unroll
      for (int j = 0; j < kTN; ++j) {
        const int64_t pj = p0 + tx + 16 * j;
        if (pj >= s.P) continue;
        const int64_t nj = pj / s.OS;
        const int64_t idx = (nj * s.M + mg) * s.OS + (pj - nj * s.OS);
        float v = acc[i][j] + b;
        if (residual) v += T::load(residual[idx]);
        y[idx] = O::store(apply_act(v, act));
      }
    }
  }
}

// ---------------------------------------------------------------- depthwise (Cg == 1)

// One thread per output element: y[n, m, od, oh, ow] from input channel m / Mg.
template <class T, class O>
__global__ void conv_depthwise_kernel(const typename T::storage* __restrict__ x,
                                      const typename T::storage* __restrict__ w,
                                      const typename T::storage* __restrict__ bias,
                                      const typename T::storage* __restrict__ residual,
                                      typename O::storage* __restrict__ y, ConvDims s, ActParams act, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    int64_t r = idx % s.OS;
    const int64_t nm = idx / s.OS;
    const int64_t m = nm % s.M;
    const int64_t n = nm / s.M;
    const int64_t c = m / s.Mg;  // the group, which is the input channel
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    const typename T::storage* xc = x + (n * s.C + c) * s.IS;
    const typename T::storage* wm = w + m * s.KS;
    float acc = 0.f;
    for (int kd = 0; kd < s.KD; ++kd) {
      const int64_t id = od * s.sd - s.pd + static_cast<int64_t>(kd) * s.dd;
      if (id < 0 || id >= s.ID) continue;
      for (int kh = 0; kh < s.KH; ++kh) {
        const int64_t ih = oh * s.sh - s.ph + static_cast<int64_t>(kh) * s.dh;
        if (ih < 0 || ih >= s.IH) continue;
        const typename T::storage* xr = xc + (id * s.IH + ih) * s.IW;
        const typename T::storage* wr = wm + (kd * s.KH + kh) * s.KW;
        for (int kw = 0; kw < s.KW; ++kw) {
          const int64_t iw = ow * s.sw - s.pw + static_cast<int64_t>(kw) * s.dw;
          if (iw < 0 || iw >= s.IW) continue;
          float xv = T::load(xr[iw]), wv = T::load(wr[kw]);
          if (s.round_bf16) {
            xv = round_to_bf16(xv);
            wv = round_to_bf16(wv);
          }
          acc = fmaf(xv, wv, acc);
        }
      }
    }
    float v = acc + (bias ? T::load(bias[m]) : 0.f);
    if (residual) v += T::load(residual[idx]);
    y[idx] = O::store(apply_act(v, act));
  }
}

// ---------------------------------------------------------------- broadcast residual

// y[i] = act(conv[ia] + residual[ib]) over Y's shape (the walk of elementwise.cuh: a = conv, b = residual).
template <class T>
__global__ void add_residual_broadcast_kernel(const float* __restrict__ conv,
                                              const typename T::storage* __restrict__ residual,
                                              typename T::storage* __restrict__ y, int64_t n, Walk wk, ActParams act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t ia = 0, ib = 0, rest = i;
#pragma unroll
    for (int d = kMaxRank - 1; d >= 0; --d) {
      if (d >= wk.rank) continue;
      const int64_t q = rest / wk.dims[d];
      const int64_t c = rest - q * wk.dims[d];
      rest = q;
      ia += c * wk.sa[d];
      ib += c * wk.sb[d];
    }
    y[i] = T::store(apply_act(conv[ia] + T::load(residual[ib]), act));
  }
}

// ---------------------------------------------------------------- host side

// Attributes that mark a weight packed for the CPU's microkernels (a layout only the CPU reads).
bool has_prepacked_weight(const AttributeMap& attrs) {
  for (const auto& kv : attrs.all()) {
    const std::string& name = kv.first;
    const Attribute& a = kv.second;
    const bool packed_name =
        name == "packed" || name == "prepacked" || name.rfind("packed_", 0) == 0 || name.rfind("prepacked_", 0) == 0;
    if (packed_name && a.kind == Attribute::Kind::Int && a.i != 0) return true;
    if (packed_name && a.kind != Attribute::Kind::Int) return true;
    if ((name == "weight_layout" || name == "w_layout" || name == "packed_layout") &&
        !(a.kind == Attribute::Kind::String && (a.s.empty() || a.s == "OIHW" || a.s == "oihw")))
      return true;
  }
  return false;
}

bool float_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

}  // namespace

// Conv / FusedConv: X, W, B?, residual? and Y share one float dtype; spatial rank 1..3; no packed W.
bool conv_supported(const Node& n, size_t max_inputs, bool fused) {
  if (n.inputs.size() < 2 || n.inputs.size() > max_inputs || !n.inputs[0] || !n.inputs[1]) return false;
  const DType t = n.inputs[0]->dtype;
  if (!float_dtype(t)) return false;
  for (const Value* v : n.inputs)
    if (v && v->dtype != t) return false;
  if (n.outputs.empty() || !n.outputs[0] || n.outputs[0]->dtype != t) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i]) return false;
  for (int i = 0; i < 2; ++i) {
    const Value* v = n.inputs[i];
    if (v->has_shape && (v->shape.size() < 3 || v->shape.size() > 5)) return false;
  }
  if (fused && has_prepacked_weight(n.attrs)) return false;
  return true;
}

namespace {

bool conv_supports(const Node& n) { return conv_supported(n, 3, false); }

void launch_conv(const ConvDims& s, DType dt, const Tensor& x, const Tensor& w, const Tensor* bias,
                 const Tensor* residual, void* y, bool fp32_out, const ActParams& act, gpuStream_t stream) {
  dispatch_float_types(dt, "Conv", [&](auto tag) {
    using T = decltype(tag);
    using S = typename T::storage;
    const S* px = data_of<T>(x);
    const S* pw = data_of<T>(w);
    const S* pb = bias ? data_of<T>(*bias) : nullptr;
    const S* pr = residual ? data_of<T>(*residual) : nullptr;
    auto go = [&](auto out_tag) {
      using O = decltype(out_tag);
      auto* py = static_cast<typename O::storage*>(y);
      if (s.Cg == 1) {
        const int64_t total = s.N * s.M * s.OS;
        conv_depthwise_kernel<T, O>
            <<<blocks_for(total, kThreads, int64_t{1} << 20), kThreads, 0, stream>>>(px, pw, pb, pr, py, s, act, total);
      } else {
        const int64_t m_tiles = (s.Mg + kBM - 1) / kBM;
        const int64_t p_tiles = (s.P + kBN - 1) / kBN;
        R1_CHECK(p_tiles < (int64_t{1} << 31), InputError) << "Conv output has too many pixels (" << s.P << ")";
        dim3 grid(static_cast<unsigned>(p_tiles), static_cast<unsigned>(std::min<int64_t>(s.G * m_tiles, 65535)));
        conv_igemm_kernel<T, O><<<grid, kConvThreads, 0, stream>>>(px, pw, pb, pr, py, s, act, m_tiles);
      }
      R1_GPU_CHECK_LAUNCH();
    };
    if (fp32_out)
      go(F32{});
    else
      go(T{});
  });
}

}  // namespace

void run_conv(KernelContext& ctx, bool fused) {
  const char* op = fused ? "FusedConv" : "Conv";
  const std::string label = ctx.node().label();
  if (fused) {
    R1_CHECK(!has_prepacked_weight(ctx.attrs()), ModelError)
        << "node " << label << ": " << op << " with a CPU-prepacked weight cannot run on " R1_GPU_BACKEND_NAME;
  }
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* bias = ctx.has_input(2) && ctx.input(2).defined() ? &ctx.input(2) : nullptr;
  const Tensor* residual = fused && ctx.has_input(3) && ctx.input(3).defined() ? &ctx.input(3) : nullptr;
  check_same_dtype(ctx, x, w);
  if (bias) check_same_dtype(ctx, x, *bias);
  if (residual) check_same_dtype(ctx, x, *residual);
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const int rank = x.rank();
  R1_CHECK(rank >= 3, InputError) << "node " << label << ": " << op << " input must have rank >= 3, got "
                                  << x.describe();
  R1_CHECK(w.rank() == rank, InputError) << "node " << label << ": " << op << " weight " << w.describe()
                                         << " does not match input " << x.describe();
  const int nd = rank - 2;
  R1_CHECK(nd <= 3, ModelError) << "node " << label << ": " << op << " over " << nd
                                << " spatial dims is not supported on " R1_GPU_BACKEND_NAME " (1 to 3)";
  const int64_t group = ctx.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "node " << label << ": " << op << " group must be positive";
  R1_CHECK(xs[1] == ws[1] * group, InputError) << "node " << label << ": " << op << " input has " << xs[1]
                                               << " channels, weight expects " << ws[1] << " x group " << group;
  R1_CHECK(ws[0] % group == 0, InputError)
      << "node " << label << ": " << op << " output channels (" << ws[0] << ") not divisible by group " << group;
  if (bias)
    R1_CHECK(bias->rank() == 1 && bias->numel() == ws[0], InputError)
        << "node " << label << ": " << op << " bias " << bias->describe() << " does not match " << ws[0]
        << " output channels";
  std::vector<int64_t> kdims = ctx.attrs().get_ints("kernel_shape");
  if (kdims.empty()) kdims.assign(ws.begin() + 2, ws.end());
  R1_CHECK(static_cast<int>(kdims.size()) == nd, InputError)
      << "node " << label << ": kernel_shape has " << kdims.size() << " dims, the weight " << nd;
  for (int i = 0; i < nd; ++i)
    R1_CHECK(kdims[i] == ws[2 + i], InputError) << "node " << label << ": kernel_shape does not match the weight shape";
  const conv_geom::Geom g = conv_geom::forward(ctx.attrs(), Shape(xs.begin() + 2, xs.end()), kdims, false);
  ActParams act;
  if (fused) act = parse_activation(ctx.attrs());
  const std::string precision = ctx.attrs().get_string("precision", "fp32");
  R1_CHECK(precision == "fp32" || precision == "bf16", ModelError)
      << "node " << label << ": precision must be 'fp32' or 'bf16', got '" << precision << "'";

  ConvDims s{};
  s.N = xs[0];
  s.C = xs[1];
  s.M = ws[0];
  s.G = group;
  s.Cg = ws[1];
  s.Mg = s.M / group;
  const Geom3 g3 = as_3d(g, nd);
  const int64_t kLimit = int64_t{1} << 30;
  for (int i = 0; i < 3; ++i)
    R1_CHECK(g3.k[i] < kLimit && g3.s[i] < kLimit && g3.d[i] < kLimit && g3.pb[i] < kLimit, ModelError)
        << "node " << label << ": " << op << " kernel, strides, dilations and pads must be below 2^30";
  s.ID = g3.in[0], s.IH = g3.in[1], s.IW = g3.in[2];
  s.OD = g3.out[0], s.OH = g3.out[1], s.OW = g3.out[2];
  s.KD = static_cast<int>(g3.k[0]), s.KH = static_cast<int>(g3.k[1]), s.KW = static_cast<int>(g3.k[2]);
  s.sd = static_cast<int>(g3.s[0]), s.sh = static_cast<int>(g3.s[1]), s.sw = static_cast<int>(g3.s[2]);
  s.dd = static_cast<int>(g3.d[0]), s.dh = static_cast<int>(g3.d[1]), s.dw = static_cast<int>(g3.d[2]);
  s.pd = static_cast<int>(g3.pb[0]), s.ph = static_cast<int>(g3.pb[1]), s.pw = static_cast<int>(g3.pb[2]);
  const int64_t KS = g3.k[0] * g3.k[1] * g3.k[2];
  const int64_t K = s.Cg * KS;
  R1_CHECK(K < (int64_t{1} << 31) - kBK, InputError)
      << "node " << label << ": " << op << " reduction depth " << K << " (channels x taps) is too large";
  s.KS = static_cast<int>(KS);
  s.K = static_cast<int>(K);
  s.IS = s.ID * s.IH * s.IW;
  s.OS = s.OD * s.OH * s.OW;
  s.P = s.N * s.OS;
  // As the CPU: bf16 products for the GEMM convs, fp32 for depthwise convs of rank <= 2.
  const bool cpu_depthwise = s.C == s.G && nd <= 2;
  s.round_bf16 = precision == "bf16" && !cpu_depthwise;

  Tensor& y = ctx.output(0);
  Shape conv_shape = {s.N, s.M};
  conv_shape.insert(conv_shape.end(), g.out.begin(), g.out.end());
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  if (!residual || (residual->shape() == y.shape() && conv_shape == y.shape())) {
    R1_CHECK(conv_shape == y.shape(), InternalError)
        << "node " << label << ": " << op << " output " << y.describe() << " is not the conv's shape";
    launch_conv(s, x.dtype(), x, w, bias, residual, y.raw(), false, act, env.stream());
    return;
  }
  // A residual that broadcasts (or enlarges Y): the conv (with its bias) to fp32 scratch, then
  // y = act(expand(conv) + expand(residual)).
  int64_t conv_numel = 1;
  for (int64_t d : conv_shape) conv_numel *= d;
  std::shared_ptr<Buffer> scratch =
      ctx.allocator().allocate(static_cast<size_t>(std::max<int64_t>(conv_numel, 1)) * sizeof(float));
  float* conv_out = static_cast<float*>(scratch->data());
  if (conv_numel > 0) launch_conv(s, x.dtype(), x, w, bias, nullptr, conv_out, true, ActParams{}, env.stream());
  const Walk wk = make_walk(conv_shape, residual->shape(), y.shape());
  const int64_t n = y.numel();
  dispatch_float_types(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    add_residual_broadcast_kernel<T>
        <<<blocks_for(n), kThreads, 0, env.stream()>>>(conv_out, data_of<T>(*residual), data_of<T>(y), n, wk, act);
    R1_GPU_CHECK_LAUNCH();
  });
}

namespace {
void conv(KernelContext& ctx) { run_conv(ctx, false); }
}  // namespace

void register_conv_kernels(KernelTable& t) { t.add("Conv", conv, "", 0, conv_supports); }
}  // namespace r1::gpu
