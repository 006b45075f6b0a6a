// Pooling on the GPU (float32 / float16 / bfloat16, fp32 accumulation): MaxPool (with the optional
// int64 Indices output), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool. CPU
// reference: cpp/r1/cpu/kernels/pool.cc; output geometry: conv_geom::forward (pads, auto_pad, strides,
// dilations, ceil_mode), the same code shape inference runs.
//
// Windowed pools: one thread per output element, 1-D and 2-D pools run as 3-D with leading unit dims.
// MaxPool keeps the first valid tap and replaces it only by a strictly larger value (pads never win),
// and its index is onnxruntime's: the flat offset in X, (n * C + c) * plane + offset in the plane, with
// storage_order=1 (2-D only) giving the plane offset column-major (h + w * H). A window with no valid tap
// gives -inf and index (n * C + c) * plane - 1, as the CPU kernel. AveragePool divides by the valid taps,
// or with count_include_pad=1 by the taps inside the explicitly padded extent ([-pad_begin, in + pad_end)
// per dim; ceil_mode's extra taps past it are not counted), as onnxruntime.
// Global pools: one block per (n, c) plane, a block reduction in fp32.
// LpPool: one thread per output element (1-3 spatial dims as 3-D); GlobalLpPool: one block per (n, c) plane.
#include <string>

#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"
#include "row_reduce.cuh"
#include "conv_util.cuh"

namespace r1::gpu {
namespace {

// One pool as 3-D (leading unit dims for 1-D / 2-D pools).
struct PoolDims {
  int64_t ID, IH, IW, OD, OH, OW;
  int64_t KD, KH, KW, sd, sh, sw, dd, dh, dw;
  int64_t pd, ph, pw;  // pads at the beginning
  int64_t ed, eh, ew;  // pads at the end (count_include_pad's extent)
  int64_t IS, OS;
};

template <class T>
__global__ void max_pool_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                int64_t* __restrict__ indices, PoolDims s, int storage_order, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t pl = idx / s.OS;
    int64_t r = idx - pl * s.OS;
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    const typename T::storage* xp = x + pl * s.IS;
    float best = -INFINITY;
    int64_t bi = -1;
    for (int64_t kd = 0; kd < s.KD; ++kd) {
      const int64_t id = od * s.sd - s.pd + kd * s.dd;
      if (id < 0 || id >= s.ID) continue;
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih < 0 || ih >= s.IH) continue;
        const int64_t row = (id * s.IH + ih) * s.IW;
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const int64_t iw = ow * s.sw - s.pw + kw * s.dw;
          if (iw < 0 || iw >= s.IW) continue;
          const float v = T::load(xp[row + iw]);
          if (bi < 0 || v > best) {
            best = v;
            bi = row + iw;
          }
        }
      }
    }
    y[idx] = T::store(best);
    if (indices) {
      int64_t off = bi;
      if (storage_order == 1 && bi >= 0) {  // 2-D only (ID == 1): column-major within the plane
        const int64_t h = bi / s.IW, w = bi - h * s.IW;
        off = h + w * s.IH;
      }
      indices[idx] = pl * s.IS + off;
    }
  }
}

// Taps t < k of a window starting at `start` that lie before the padded end (in + pad_end).
__device__ __forceinline__ int64_t padded_taps(int64_t start, int64_t k, int64_t step, int64_t limit) {
  int64_t n = 0;
  for (int64_t t = 0; t < k; ++t)
    if (start + t * step < limit) ++n;
  return n;
}

template <class T>
__global__ void avg_pool_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                PoolDims s, bool count_include_pad, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t pl = idx / s.OS;
    int64_t r = idx - pl * s.OS;
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    const typename T::storage* xp = x + pl * s.IS;
    float acc = 0.f;
    int64_t n = 0;
    for (int64_t kd = 0; kd < s.KD; ++kd) {
      const int64_t id = od * s.sd - s.pd + kd * s.dd;
      if (id < 0 || id >= s.ID) continue;
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih < 0 || ih >= s.IH) continue;
        const int64_t row = (id * s.IH + ih) * s.IW;
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const int64_t iw = ow * s.sw - s.pw + kw * s.dw;
          if (iw < 0 || iw >= s.IW) continue;
          acc += T::load(xp[row + iw]);
          ++n;
        }
      }
    }
    int64_t div = n;
    if (count_include_pad)
      div = padded_taps(od * s.sd - s.pd, s.KD, s.dd, s.ID + s.ed) *
            padded_taps(oh * s.sh - s.ph, s.KH, s.dh, s.IH + s.eh) *
            padded_taps(ow * s.sw - s.pw, s.KW, s.dw, s.IW + s.ew);
    y[idx] = T::store(div > 0 ? acc / static_cast<float>(div) : 0.f);
  }
}

template <class T, bool kMax>
__global__ void global_pool_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                   int64_t planes, int64_t n) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t pl = blockIdx.x; pl < planes; pl += gridDim.x) {
    const typename T::storage* xp = x + pl * n;
    float v = kMax ? -INFINITY : 0.f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float e = T::load(xp[j]);
      v = kMax ? (e > v ? e : v) : v + e;
    }
    const float r = kMax ? block_reduce(v, MaxOp{}, scratch) : block_reduce(v, SumOp{}, scratch);
    if (threadIdx.x == 0) y[pl] = T::store(kMax ? r : (n > 0 ? r / static_cast<float>(n) : 0.f));
  }
}

// ---------------------------------------------------------------- host side

// X and Y of one float dtype, X of rank rank_lo..rank_hi where known; MaxPool's Indices int64.
bool pool_supported(const Node& n, bool indices_ok, size_t rank_lo, size_t rank_hi) {
  if (n.inputs.size() != 1 || !n.inputs[0]) return false;
  const DType t = n.inputs[0]->dtype;
  if (!float_dtype(t)) return false;
  if (n.inputs[0]->has_shape && (n.inputs[0]->shape.size() < rank_lo || n.inputs[0]->shape.size() > rank_hi))
    return false;
  if (n.outputs.empty() || !n.outputs[0] || n.outputs[0]->dtype != t) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i) {
    if (!n.outputs[i]) continue;
    if (!indices_ok || i > 1 || n.outputs[i]->dtype != DType::Int64) return false;
  }
  return true;
}
// storage_order=1 runs here for 2-D pools only (the kernel refuses other ranks); the CPU takes the rest.
bool max_pool_supports(const Node& n) {
  const int64_t so = n.attrs.get_int("storage_order", 0);
  if (so != 0 &&
      !(so == 1 && n.inputs.size() == 1 && n.inputs[0] && n.inputs[0]->has_shape && n.inputs[0]->shape.size() == 4))
    return false;
  return pool_supported(n, true, 3, 5);
}
bool avg_pool_supports(const Node& n) { return pool_supported(n, false, 3, 5); }
bool global_pool_supports(const Node& n) { return pool_supported(n, false, 3, 64); }

PoolDims pool_dims(KernelContext& ctx, const char* op) {
  const Tensor& x = ctx.input(0);
  const std::string label = ctx.node().label();
  R1_CHECK(x.rank() >= 3, InputError) << "node " << label << ": " << op << " input must have rank >= 3, got "
                                      << x.describe();
  const int nd = x.rank() - 2;
  R1_CHECK(nd <= 3, ModelError) << "node " << label << ": " << op << " over " << nd
                                << " spatial dims is not supported on " R1_GPU_BACKEND_NAME " (1 to 3)";
  const std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  R1_CHECK(!k.empty(), ModelError) << "node " << label << ": " << op << " needs attribute kernel_shape";
  const Shape& xs = x.shape();
  const conv_geom::Geom g = conv_geom::forward(ctx.attrs(), Shape(xs.begin() + 2, xs.end()), k, true);
  const Geom3 g3 = as_3d(g, nd);
  PoolDims s{};
  s.ID = g3.in[0], s.IH = g3.in[1], s.IW = g3.in[2];
  s.OD = g3.out[0], s.OH = g3.out[1], s.OW = g3.out[2];
  s.KD = g3.k[0], s.KH = g3.k[1], s.KW = g3.k[2];
  s.sd = g3.s[0], s.sh = g3.s[1], s.sw = g3.s[2];
  s.dd = g3.d[0], s.dh = g3.d[1], s.dw = g3.d[2];
  s.pd = g3.pb[0], s.ph = g3.pb[1], s.pw = g3.pb[2];
  s.ed = g3.pe[0], s.eh = g3.pe[1], s.ew = g3.pe[2];
  s.IS = s.ID * s.IH * s.IW;
  s.OS = s.OD * s.OH * s.OW;
  return s;
}

void max_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string label = ctx.node().label();
  const PoolDims s = pool_dims(ctx, "MaxPool");
  const int storage_order = static_cast<int>(ctx.attrs().get_int("storage_order", 0));
  R1_CHECK(storage_order == 0 || storage_order == 1, ModelError)
      << "node " << label << ": MaxPool storage_order must be 0 or 1, got " << storage_order;
  R1_CHECK(storage_order == 0 || x.rank() == 4, ModelError)
      << "node " << label << ": MaxPool storage_order=1 is not supported for rank " << x.rank();
  Tensor& y = ctx.output(0);
  int64_t* ind = nullptr;
  if (ctx.has_output(1)) {
    Tensor& it = ctx.output(1);
    R1_CHECK(it.dtype() == DType::Int64, ModelError)
        << "node " << label << ": MaxPool Indices must be int64, got " << dtype_name(it.dtype());
    ind = static_cast<int64_t*>(it.raw());
  }
  const int64_t total = y.numel();
  if (total == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "MaxPool", [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<T><<<blocks_for(total, kThreads, int64_t{1} << 20), kThreads, 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(y), ind, s, storage_order, total);
    R1_GPU_CHECK_LAUNCH();
  });
}

void avg_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const PoolDims s = pool_dims(ctx, "AveragePool");
  const bool count_pad = ctx.attrs().get_int("count_include_pad", 0) != 0;
  Tensor& y = ctx.output(0);
  const int64_t total = y.numel();
  if (total == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "AveragePool", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<T><<<blocks_for(total, kThreads, int64_t{1} << 20), kThreads, 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(y), s, count_pad, total);
    R1_GPU_CHECK_LAUNCH();
  });
}

template <bool kMax>
void global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const char* op = kMax ? "GlobalMaxPool" : "GlobalAveragePool";
  R1_CHECK(x.rank() >= 3, InputError) << "node " << ctx.node().label() << ": " << op
                                      << " input must have rank >= 3, got " << x.describe();
  Tensor& y = ctx.output(0);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  if (planes == 0 || y.numel() == 0) return;
  const int64_t n = x.numel() / planes;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const unsigned grid = static_cast<unsigned>(planes < (1 << 20) ? planes : (1 << 20));
    global_pool_kernel<T, kMax><<<grid, row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), planes, n);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------- LpPool, GlobalLpPool

__device__ __forceinline__ float lp_term(float v, int p) {
  const float av = fabsf(v);
  return p == 2 ? av * av : (p == 1 ? av : powf(av, static_cast<float>(p)));
}
__device__ __forceinline__ float lp_root(float acc, int p) {
  return p == 2 ? sqrtf(acc) : (p == 1 ? acc : powf(acc, 1.0f / static_cast<float>(p)));
}

struct LpPoolDims {
  int64_t ID, IH, IW, OD, OH, OW;
  int64_t KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw;
  int64_t IS, OS;
};

template <class T>
__global__ void lp_pool_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                               LpPoolDims s, int p, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t pl = idx / s.OS;
    int64_t r = idx - pl * s.OS;
    const int64_t od = r / (s.OH * s.OW);
    r -= od * (s.OH * s.OW);
    const int64_t oh = r / s.OW;
    const int64_t ow = r - oh * s.OW;
    const typename T::storage* xp = x + pl * s.IS;
    float acc = 0.f;
    for (int64_t kd = 0; kd < s.KD; ++kd) {
      const int64_t id = od * s.sd - s.pd + kd * s.dd;
      if (id < 0 || id >= s.ID) continue;
      for (int64_t kh = 0; kh < s.KH; ++kh) {
        const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih < 0 || ih >= s.IH) continue;
        const int64_t row = (id * s.IH + ih) * s.IW;
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const int64_t iw = ow * s.sw - s.pw + kw * s.dw;
          if (iw < 0 || iw >= s.IW) continue;
          acc += lp_term(T::load(xp[row + iw]), p);
        }
      }
    }
    y[idx] = T::store(lp_root(acc, p));
  }
}

template <class T>
__global__ void global_lp_pool_kernel(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                                      int64_t planes, int64_t n, int p) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t pl = blockIdx.x; pl < planes; pl += gridDim.x) {
    const typename T::storage* xp = x + pl * n;
    float v = 0.f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) v += lp_term(T::load(xp[j]), p);
    const float r = block_reduce(v, SumOp{}, scratch);
    if (threadIdx.x == 0) y[pl] = T::store(lp_root(r, p));
  }
}

int lp_pool_p(KernelContext& ctx, const char* op) {
  const int64_t p = ctx.attrs().get_int("p", 2);
  R1_CHECK(p >= 1 && p <= 64, ModelError) << "node " << ctx.node().label() << ": " << op << " p=" << p
                                          << " is not supported on " R1_GPU_BACKEND_NAME " (1 to 64)";
  return static_cast<int>(p);
}

void lp_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string label = ctx.node().label();
  const int nd = x.rank() - 2;
  R1_CHECK(nd >= 1 && nd <= 3, ModelError)
      << "node " << label << ": pooling over " << nd << " spatial dims is not supported";
  const std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  R1_CHECK(!k.empty(), ModelError) << "node " << label << ": LpPool needs attribute kernel_shape";
  const int p = lp_pool_p(ctx, "LpPool");
  const Shape& xs = x.shape();
  const conv_geom::Geom g = conv_geom::forward(ctx.attrs(), Shape(xs.begin() + 2, xs.end()), k, true);
  const Geom3 g3 = as_3d(g, nd);
  LpPoolDims s{};
  s.ID = g3.in[0], s.IH = g3.in[1], s.IW = g3.in[2];
  s.OD = g3.out[0], s.OH = g3.out[1], s.OW = g3.out[2];
  s.KD = g3.k[0], s.KH = g3.k[1], s.KW = g3.k[2];
  s.sd = g3.s[0], s.sh = g3.s[1], s.sw = g3.s[2];
  s.dd = g3.d[0], s.dh = g3.d[1], s.dw = g3.d[2];
  s.pd = g3.pb[0], s.ph = g3.pb[1], s.pw = g3.pb[2];
  s.IS = s.ID * s.IH * s.IW;
  s.OS = s.OD * s.OH * s.OW;
  Tensor& y = ctx.output(0);
  R1_CHECK(y.numel() == xs[0] * xs[1] * s.OS, InternalError)
      << "node " << label << ": LpPool output " << y.describe() << " does not match the pooling geometry";
  const int64_t total = y.numel();
  if (total == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "LpPool", [&](auto tag) {
    using T = decltype(tag);
    lp_pool_kernel<T><<<blocks_for(total, kThreads, int64_t{1} << 20), kThreads, 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(y), s, p, total);
    R1_GPU_CHECK_LAUNCH();
  });
}

void global_lp_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  R1_CHECK(x.rank() >= 3, InputError) << "node " << ctx.node().label()
                                      << ": GlobalLpPool input must have rank >= 3, got " << x.describe();
  const int p = lp_pool_p(ctx, "GlobalLpPool");
  Tensor& y = ctx.output(0);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  if (planes == 0 || y.numel() == 0) return;
  const int64_t n = x.numel() / planes;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "GlobalLpPool", [&](auto tag) {
    using T = decltype(tag);
    global_lp_pool_kernel<T>
        <<<grid_for_rows(planes), row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), planes, n, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

bool lp_pool_supports(const Node& n) {
  if (n.inputs.size() == 1 && n.inputs[0] && n.inputs[0]->has_shape &&
      (n.inputs[0]->shape.size() < 3 || n.inputs[0]->shape.size() > 5))
    return false;
  const int64_t p = n.attrs.get_int("p", 2);
  return p >= 1 && p <= 64 && same_float_supports(n);
}
bool global_lp_pool_supports(const Node& n) {
  const int64_t p = n.attrs.get_int("p", 2);
  return p >= 1 && p <= 64 && same_float_supports(n);
}

}  // namespace

void register_pool_kernels(KernelTable& t) {
  t.add("MaxPool", max_pool, "", 0, max_pool_supports);
  t.add("AveragePool", avg_pool, "", 0, avg_pool_supports);
  t.add("GlobalAveragePool", global_pool<false>, "", 0, global_pool_supports);
  t.add("GlobalMaxPool", global_pool<true>, "", 0, global_pool_supports);
  t.add("LpPool", lp_pool, "", 0, lp_pool_supports);
  t.add("GlobalLpPool", global_lp_pool, "", 0, global_lp_pool_supports);
}
}  // namespace r1::gpu
