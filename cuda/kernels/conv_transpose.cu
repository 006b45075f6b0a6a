// ConvTranspose on the GPU (float32 / float16 / bfloat16, fp32 accumulation), 1 to 3 spatial dims.
// CPU reference: cpp/r1/cpu/kernels/conv_transpose.cc; output geometry: conv_geom::transpose (strides,
// dilations, pads, output_padding, output_shape, auto_pad), the same code shape inference runs.
//
// One thread per output element gathers its contributions (no atomics): input position i and kernel
// tap k feed output o = i * stride - pad_begin + k * dilation, so for each tap the thread takes
// i = (o + pad_begin - k * dilation) / stride where that division is exact and i is in range, and
// sums x[n, g * Cg + c, i] * W[g * Cg + c, m % Mg, k] over the Cg channels of its group; then adds
// B[m]. W is [C, M / group, k...]; 1-D and 2-D run as 3-D with leading unit dims.
#include <string>

#include "elementwise.cuh"
#include "families.h"
#include "conv_util.cuh"

namespace r1::gpu {
namespace {

struct ConvTDims {
  int64_t N, C, M, Cg, Mg;
  int64_t ID, IH, IW, OD, OH, OW;
  int64_t KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw;
  int64_t IS, OS, KS;
};

// The input index feeding output o through tap k, or -1 where none does.
__device__ __forceinline__ int64_t source_index(int64_t o, int64_t k, int64_t s, int64_t d, int64_t p, int64_t in) {
  const int64_t t = o + p - k * d;
  if (t < 0) return -1;
  const int64_t i = t / s;
  if (i * s != t || i >= in) return -1;
  return i;
}

template <class T>
__global__ void conv_transpose_kernel(const typename T::storage* __restrict__ x,
                                      const typename T::storage* __restrict__ w,
                                      const typename T::storage* __restrict__ bias, typename T::storage* __restrict__ y,
                                      ConvTDims s, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t nm = idx / s.OS;
    int64_t r = idx - nm * s.OS;
    const int64_t n = nm / s.M, m = nm - n * s.M;
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    const int64_t gi = m / s.Mg, mm = m - gi * s.Mg;
    const typename T::storage* xg = x + (n * s.C + gi * s.Cg) * s.IS;      // channel gi * Cg of sample n
    const typename T::storage* wg = w + ((gi * s.Cg) * s.Mg + mm) * s.KS;  // W[gi * Cg, mm, :]
    float acc = 0.f;
    for (int64_t kd = 0; kd < s.KD; ++kd) {
      const int64_t id = source_index(od, kd, s.sd, s.dd, s.pd, s.ID);
      if (id < 0) continue;
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        const int64_t ih = source_index(oh, kh, s.sh, s.dh, s.ph, s.IH);
        if (ih < 0) continue;
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const int64_t iw = source_index(ow, kw, s.sw, s.dw, s.pw, s.IW);
          if (iw < 0) continue;
          const int64_t xo = (id * s.IH + ih) * s.IW + iw;
          const int64_t wo = (kd * s.KH + kh) * s.KW + kw;
          for (int64_t c = 0; c < s.Cg; ++c) acc += T::load(xg[c * s.IS + xo]) * T::load(wg[c * s.Mg * s.KS + wo]);
        }
      }
    }
    if (bias) acc += T::load(bias[m]);
    y[idx] = T::store(acc);
  }
}

void conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const std::string label = ctx.node().label();
  R1_CHECK(x.rank() >= 3, InputError) << "node " << label << ": ConvTranspose input must have rank >= 3, got "
                                      << x.describe();
  const int nd = x.rank() - 2;
  R1_CHECK(nd <= 3, ModelError) << "node " << label << ": ConvTranspose over " << nd
                                << " spatial dims is not supported on " R1_GPU_BACKEND_NAME " (1 to 3)";
  R1_CHECK(w.rank() == x.rank(), InputError)
      << "node " << label << ": ConvTranspose weight " << w.describe() << " does not match input " << x.describe();
  check_same_dtype(ctx, x, w);
  if (b) check_same_dtype(ctx, x, *b);
  const int64_t group = ctx.attrs().get_int("group", 1);
  R1_CHECK(group > 0, ModelError) << "node " << label << ": ConvTranspose group must be positive";
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  R1_CHECK(xs[1] == ws[0], InputError) << "node " << label << ": ConvTranspose input has " << xs[1]
                                       << " channels, weight expects " << ws[0];
  R1_CHECK(ws[0] % group == 0, InputError) << "node " << label << ": ConvTranspose channels not divisible by group";
  std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  if (k.empty()) k.assign(ws.begin() + 2, ws.end());
  R1_CHECK(k.size() + 2 == ws.size(), InputError)
      << "kernel_shape has " << k.size() << " dims, the weight " << ws.size() - 2;
  for (size_t i = 0; i < k.size(); ++i)
    R1_CHECK(k[i] == ws[2 + i], InputError) << "kernel_shape does not match the weight shape";
  const conv_geom::Geom g = conv_geom::transpose(ctx.attrs(), Shape(xs.begin() + 2, xs.end()), k);
  ConvTDims s{};
  s.N = xs[0];
  s.C = xs[1];
  s.Mg = ws[1];
  s.M = s.Mg * group;
  s.Cg = s.C / group;
  if (b)
    R1_CHECK(b->numel() == s.M, InputError)
        << "node " << label << ": ConvTranspose bias has " << b->numel() << " elements, expected " << s.M;
  Tensor& y = ctx.output(0);
  Shape want = {s.N, s.M};
  want.insert(want.end(), g.out.begin(), g.out.end());
  R1_CHECK(y.shape() == want, InternalError)
      << "node " << label << ": ConvTranspose output " << y.describe() << " does not match the geometry";
  const Geom3 g3 = as_3d(g, nd);
  s.ID = g3.in[0], s.IH = g3.in[1], s.IW = g3.in[2];
  s.OD = g3.out[0], s.OH = g3.out[1], s.OW = g3.out[2];
  s.KD = g3.k[0], s.KH = g3.k[1], s.KW = g3.k[2];
  s.sd = g3.s[0], s.sh = g3.s[1], s.sw = g3.s[2];
  s.dd = g3.d[0], s.dh = g3.d[1], s.dw = g3.d[2];
  s.pd = g3.pb[0], s.ph = g3.pb[1], s.pw = g3.pb[2];
  s.IS = s.ID * s.IH * s.IW;
  s.OS = s.OD * s.OH * s.OW;
  s.KS = s.KD * s.KH * s.KW;
  const int64_t total = y.numel();
  if (total == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "ConvTranspose", [&](auto tag) {
    using T = decltype(tag);
    conv_transpose_kernel<T><<<blocks_for(total, kThreads, int64_t{1} << 20), kThreads, 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(w), b ? data_of<T>(*b) : nullptr, data_of<T>(y), s, total);
    R1_GPU_CHECK_LAUNCH();
  });
}

bool float_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// X, W, B and Y of one float dtype, X of rank 3 to 5 where known.
bool conv_transpose_supports(const Node& n) {
  if (n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1]) return false;
  const DType t = n.inputs[0]->dtype;
  if (!float_dtype(t)) return false;
  for (const Value* v : n.inputs)
    if (v && v->dtype != t) return false;
  if (n.inputs[0]->has_shape && (n.inputs[0]->shape.size() < 3 || n.inputs[0]->shape.size() > 5)) return false;
  if (n.outputs.empty() || !n.outputs[0] || n.outputs[0]->dtype != t) return false;
  return true;
}

}  // namespace

void register_conv_transpose_kernels(KernelTable& t) {
  t.add("ConvTranspose", conv_transpose, "", 0, conv_transpose_supports);
}
}  // namespace r1::gpu
