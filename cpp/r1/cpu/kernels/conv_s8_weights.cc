// The int8 convolution's weights (conv_s8.h has the layouts): quantized per output channel, either once at
// compile time by r1::FusedConv's prepack hook (stored int8 in the .r1: W becomes int8 [M, C/group, *k] in
// ONNX's order and input 4 its per-channel scales [M]) or, for a float weight, at the first call. Either way
// the kernel arranges the integers into its K order (with their sums) once per graph constant. int8 runs on
// CPUs only (engines refuse precision="int8" on other devices), so no device needs them dequantized back.
#include <algorithm>
#include <cmath>

#include "r1/core/int8_grid.h"
#include "r1/cpu/gemm/gemm_s8.h"
#include "r1/cpu/kernels/conv_s8_driver.h"
#include "r1/cpu/kernels/weight_cache.h"

namespace r1::cpu {
namespace {

struct QuantizedConvWeights {
  std::vector<int8_t> q;  // ONNX order [M][per_row]
  std::vector<float> scale;
};

// Per output channel: q = round(w * 127 / max|w|), scale = max|w| / 127. Weights already on one int8 grid
// for the whole tensor (imported per-tensor quantized models) keep their integers.
QuantizedConvWeights quantize(const float* w, int64_t M, int64_t per_row, ThreadPool* pool) {
  QuantizedConvWeights r;
  r.q.resize(static_cast<size_t>(M * per_row));
  r.scale.resize(static_cast<size_t>(M));
  const float tensor_max = std::max(0.f, int8_grid_max(M * per_row, [&](int64_t i) { return w[i]; }));
  auto rows = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* src = w + m * per_row;
      float amax = tensor_max;
      for (int64_t i = 0; i < per_row && tensor_max == 0.f; ++i) amax = std::max(amax, std::fabs(src[i]));
      r.scale[m] = amax / 127.f;
      const float inv = amax > 0.f ? 127.f / amax : 0.f;
      int8_t* d = r.q.data() + m * per_row;
      for (int64_t i = 0; i < per_row; ++i)
        d[i] = static_cast<int8_t>(std::min(127.f, std::max(-127.f, std::nearbyint(src[i] * inv))));
    }
  };
  if (pool)
    pool->parallel_for(0, M, 4, rows);
  else
    rows(0, M);
  return r;
}

// ONNX order [M][Cg][KS] -> the kernel's [M][KS * C4 quads of 4] (zero past each group's channels), with sums.
std::shared_ptr<const void> arrange(const int8_t* q, const float* scale, int64_t M, int64_t Cg, int64_t KS) {
  auto out = std::make_shared<ConvWeightsS8Data>();
  const int64_t C4 = (Cg + 3) / 4;
  out->kq = KS * C4;
  out->ldw = 4 * out->kq;
  out->w.assign(static_cast<size_t>(M * out->ldw), 0);
  out->scale.assign(scale, scale + M);
  out->sum.resize(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    const int8_t* src = q + m * Cg * KS;
    int8_t* d = out->w.data() + m * out->ldw;
    int32_t sum = 0;
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t s = 0; s < KS; ++s) {
        const int8_t v = src[c * KS + s];
        d[(s * C4 + c / 4) * 4 + c % 4] = v;  // K order (ky, kx, channel quad), byte c % 4
        sum += v;
      }
    out->sum[m] = sum;
  }
  return out;
}

int64_t product(const Shape& s, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace

bool conv_s8_shape_applies(int64_t nd, int64_t c, int64_t m, int64_t group, int64_t kernel_size) {
  if (nd < 1 || nd > 2 || group <= 0 || c % group != 0 || m % group != 0) return false;
  const int64_t cg = c / group;
  if (cg == 1 && group > 1) return false;  // depthwise: memory-bound, stays fp32
  const int64_t k = (cg + 3) / 4 * 4 * kernel_size;
  return k > 0 && k <= gemm::kMaxS8Depth;
}

ConvWeightsS8 conv_weights_s8(const KernelContext& ctx, const Tensor& w, const ConvArgs& a, ThreadPool& pool) {
  const int64_t cg = a.c / a.group, ks = product(w.shape(), 2);
  ConvWeightsS8 r;
  if (w.dtype() == DType::Int8) {
    R1_CHECK(ctx.has_input(4), ModelError) << ctx.node().label() << ": an int8 weight needs its scales (input 4)";
    const Tensor& s = ctx.input(4);
    R1_CHECK(s.dtype() == DType::Float32 && s.numel() == a.m, ModelError)
        << ctx.node().label() << ": the weight scales must be float32 [" << a.m << "], got " << s.describe();
    r.hold =
        std::static_pointer_cast<const ConvWeightsS8Data>(cached_weights(ctx, w, {a.m, cg * ks, kConvS8FromInt8}, [&] {
          return arrange(w.data<int8_t>(), s.data<float>(), a.m, cg, ks);
        }));
    return r;
  }
  r.hold = std::static_pointer_cast<const ConvWeightsS8Data>(
      cached_weights(ctx, w, {a.m, cg * ks, kConvS8FromFloat}, [&]() -> std::shared_ptr<const void> {
        const QuantizedConvWeights qw = quantize(a.w, a.m, cg * ks, &pool);
        return arrange(qw.q.data(), qw.scale.data(), a.m, cg, ks);
      }));
  return r;
}

bool prepack_fused_conv(Node& n, PrepackContext& ctx) {
  Value* w = n.inputs.size() > 1 ? n.inputs[1] : nullptr;
  if (!w || !w->is_constant()) return false;
  const Tensor& wt = w->constant;
  const int64_t group = n.attrs.get_int("group", 1);
  const bool int8_here =
      n.attrs.get_string("precision", "fp32") == "int8" && wt.rank() >= 3 &&
      conv_s8_shape_applies(wt.rank() - 2, wt.dim(1) * group, wt.dim(0), group, product(wt.shape(), 2));
  // Only fp32 models: the int8 products' epilogue is fp32 either way.
  const Value* x = n.input(0);
  if (!int8_here || wt.dtype() != DType::Float32 || !x || x->dtype != DType::Float32) return false;
  Value*& done = ctx.done[{w, "conv_int8"}];
  Value*& done_scale = ctx.done[{w, "conv_int8_scale"}];
  if (!done) {
    const QuantizedConvWeights qw = quantize(wt.data<float>(), wt.dim(0), product(wt.shape(), 1), nullptr);
    Tensor q = Tensor::empty(DType::Int8, wt.shape());
    std::copy(qw.q.begin(), qw.q.end(), q.data<int8_t>());
    Tensor s = Tensor::empty(DType::Float32, {wt.dim(0)});
    std::copy(qw.scale.begin(), qw.scale.end(), s.data<float>());
    done = ctx.graph.add_constant(ctx.graph.unique_name(w->name + "_int8"), std::move(q));
    done_scale = ctx.graph.add_constant(ctx.graph.unique_name(w->name + "_scale"), std::move(s));
  }
  if (n.inputs.size() < 5) n.inputs.resize(5, nullptr);
  ctx.graph.set_input(&n, 1, done);
  ctx.graph.set_input(&n, 4, done_scale);
  // Right away: a mapped .r1 weight nobody reads any more gives its resident pages back.
  if (w->consumers.empty() && wt.buffer()) wt.buffer()->drop_resident_pages(wt.byte_offset(), wt.nbytes());
  return true;
}

}  // namespace r1::cpu
