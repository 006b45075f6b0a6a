// GroupNormalization, InstanceNormalization, LpNormalization and MeanVarianceNormalization on the GPU
// (float32 / float16 / bfloat16, fp32 accumulation). CPU reference: cpp/r1/cpu/kernels/normalization.cc.
//
// Group / Instance: one block per (n, group), a contiguous row of (C / G) * spatial elements; two
// passes (mean, then the mean of squared deviations), y = (x - mean) * (inv * scale[c]) + bias[c] (the
// CPU folds the mean into the bias, x * a + (bias - mean * a), which cancels badly when |mean| * a is
// large; the value is the same up to that rounding). Scale and bias have C elements (per channel) or, for
// GroupNormalization, G elements (per group: opset 18's layout), whichever the CPU accepts.
// LpNormalization: one block per row along `axis` (elements `inner` apart); y = x / ||x||_p, 0 where
// the norm is 0. MeanVarianceNormalization: one block per kept position over the reduced axes;
// y = (x - mean) / (std + 1e-9) with the population variance (two passes here; the CPU uses
// E[x^2] - mean^2 in double).
#include <string>

#include "elementwise.cuh"
#include "families.h"
#include "kernel_util.cuh"
#include "row_reduce.cuh"

namespace r1::gpu {
namespace {

constexpr int kMaxDims = 8;

// ---------------------------------------------------------------- Group / Instance normalization

// Rows of n = gs * S elements, one per (n, group); element j of row r is in channel (r % G) * gs + j / S,
// whose scale index is channel / sc_div and bias index channel / b_div (1: per channel, C / G: per group).
template <class T>
__global__ void group_norm_rows(const typename T::storage* __restrict__ x,
                                const typename T::storage* __restrict__ scale,
                                const typename T::storage* __restrict__ bias, typename T::storage* __restrict__ y,
                                int64_t rows, int64_t G, int64_t gs, int64_t S, int64_t sc_div, int64_t b_div,
                                float eps) {
  __shared__ float scratch[kMaxWarps];
  const int64_t n = gs * S;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const typename T::storage* xr = x + row * n;
    typename T::storage* yr = y + row * n;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += T::load(xr[j]);
    const float mean = block_reduce(s, SumOp{}, scratch) / static_cast<float>(n);
    float q = 0.f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float d = T::load(xr[j]) - mean;
      q += d * d;
    }
    const float var = block_reduce(q, SumOp{}, scratch) / static_cast<float>(n);
    const float inv = 1.0f / sqrtf(var + eps);
    const int64_t c0 = (row % G) * gs;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const int64_t c = c0 + j / S;
      yr[j] = T::store((T::load(xr[j]) - mean) * (inv * T::load(scale[c / sc_div])) + T::load(bias[c / b_div]));
    }
  }
}

void group_norm_common(KernelContext& ctx, const char* op, int64_t G, bool per_group_ok) {
  const Tensor& x = ctx.input(0);
  const std::string label = ctx.node().label();
  R1_CHECK(x.rank() >= 2, InputError) << "node " << label << ": " << op << " needs an input of rank >= 2, got "
                                      << x.describe();
  const Shape& s = x.shape();
  const int64_t N = s[0], C = s[1];
  int64_t S = 1;
  for (int i = 2; i < x.rank(); ++i) S *= s[i];
  R1_CHECK(G > 0 && C % G == 0, InputError)
      << "node " << label << ": channels " << C << " not divisible by num_groups " << G;
  R1_CHECK(ctx.has_input(1) && ctx.has_input(2), InputError)
      << "node " << label << ": " << op << " needs scale and B inputs";
  const Tensor& scale = ctx.input(1);
  const Tensor& bias = ctx.input(2);
  check_same_dtype(ctx, x, scale);
  check_same_dtype(ctx, x, bias);
  int64_t div[2];
  const Tensor* prm[2] = {&scale, &bias};
  const char* names[2] = {"scale", "bias"};
  for (int i = 0; i < 2; ++i) {
    const int64_t k = prm[i]->numel();
    if (k == C) {
      div[i] = 1;
    } else {
      R1_CHECK(per_group_ok && k == G, InputError)
          << "node " << label << ": " << op << " " << names[i] << " has " << k << " elements, expected " << C
          << (per_group_ok ? " or " + std::to_string(G) : std::string());
      div[i] = C / G;
    }
  }
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const int64_t gs = C / G, rows = N * G;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    group_norm_rows<T><<<grid_for_rows(rows), row_threads(gs * S), 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(scale), data_of<T>(bias), data_of<T>(y), rows, G, gs, S, div[0], div[1], eps);
    R1_GPU_CHECK_LAUNCH();
  });
}

void instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  R1_CHECK(x.rank() >= 2, InputError) << "node " << ctx.node().label()
                                      << ": InstanceNormalization needs an input of rank >= 2, got " << x.describe();
  const int64_t C = x.shape()[1];
  R1_CHECK(ctx.has_input(1) && ctx.has_input(2) && ctx.input(1).numel() == C && ctx.input(2).numel() == C, InputError)
      << "InstanceNormalization scale and B need " << C << " elements";
  group_norm_common(ctx, "InstanceNormalization", C, false);
}

void group_norm(KernelContext& ctx) {
  const int64_t G = ctx.attrs().get_int("num_groups", 0);
  group_norm_common(ctx, "GroupNormalization", G, true);
}

// ---------------------------------------------------------------- LpNormalization

template <class T, int kP>
__global__ void lp_norm_rows(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y,
                             int64_t rows, int64_t n, int64_t inner) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = (row / inner) * n * inner + row % inner;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float v = T::load(x[base + j * inner]);
      s += kP == 1 ? fabsf(v) : v * v;
    }
    const float total = block_reduce(s, SumOp{}, scratch);
    const float norm = kP == 1 ? total : sqrtf(total);
    const float f = norm == 0.f ? 0.f : 1.0f / norm;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
      y[base + j * inner] = T::store(T::load(x[base + j * inner]) * f);
  }
}

void lp_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank > 1 ? rank : 1, "axis");
  const int64_t p = ctx.attrs().get_int("p", 2);
  R1_CHECK(p == 1 || p == 2, ModelError) << "LpNormalization p=" << p << " is not supported (1 or 2)";
  if (x.numel() == 0) return;
  int64_t n = 1, inner = 1;
  if (rank > 0) {
    n = x.shape()[axis];
    for (int d = axis + 1; d < rank; ++d) inner *= x.shape()[d];
  }
  const int64_t rows = x.numel() / n;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "LpNormalization", [&](auto tag) {
    using T = decltype(tag);
    if (p == 1)
      lp_norm_rows<T, 1>
          <<<grid_for_rows(rows), row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), rows, n, inner);
    else
      lp_norm_rows<T, 2>
          <<<grid_for_rows(rows), row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), rows, n, inner);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------- MeanVarianceNormalization

// The kept dims (outer index `row`) and the reduced dims (inner index j), each with its strides in x.
struct MvnDims {
  int nk, nr;
  int64_t kd[kMaxDims], ks[kMaxDims];  // kept dims and their strides
  int64_t rd[kMaxDims], rs[kMaxDims];  // reduced dims and their strides
};

__device__ __forceinline__ int64_t offset_of(int64_t i, int n, const int64_t* dims, const int64_t* strides) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    const int64_t q = i / dims[d];
    off += (i - q * dims[d]) * strides[d];
    i = q;
  }
  return off;
}

template <class T>
__global__ void mvn_rows(const typename T::storage* __restrict__ x, typename T::storage* __restrict__ y, MvnDims m,
                         int64_t rows, int64_t cnt) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = offset_of(row, m.nk, m.kd, m.ks);
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) s += T::load(x[base + offset_of(j, m.nr, m.rd, m.rs)]);
    const float mean = block_reduce(s, SumOp{}, scratch) / static_cast<float>(cnt);
    float q = 0.f;
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
      const float d = T::load(x[base + offset_of(j, m.nr, m.rd, m.rs)]) - mean;
      q += d * d;
    }
    const float var = block_reduce(q, SumOp{}, scratch) / static_cast<float>(cnt);
    const float f = 1.0f / (sqrtf(var) + 1e-9f);
    for (int64_t j = threadIdx.x; j < cnt; j += blockDim.x) {
      const int64_t off = base + offset_of(j, m.nr, m.rd, m.rs);
      y[off] = T::store((T::load(x[off]) - mean) * f);
    }
  }
}

void mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const std::vector<int64_t> axes = ctx.attrs().get_ints("axes", {0, 2, 3});
  std::vector<bool> mask(rank, false);
  for (int64_t a : axes) mask[normalize_axis(a, rank, "axes")] = true;
  R1_CHECK(rank <= kMaxDims, ModelError) << "node " << ctx.node().label() << ": MeanVarianceNormalization of rank "
                                         << rank << " is not supported on " R1_GPU_BACKEND_NAME " (at most " << kMaxDims
                                         << ")";
  if (x.numel() == 0) return;
  MvnDims m{};
  int64_t stride = 1, cnt = 1, rows = 1;
  int64_t strides[kMaxDims];
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= x.shape()[d];
  }
  for (int d = 0; d < rank; ++d) {
    if (mask[d]) {
      m.rd[m.nr] = x.shape()[d];
      m.rs[m.nr++] = strides[d];
      cnt *= x.shape()[d];
    } else {
      m.kd[m.nk] = x.shape()[d];
      m.ks[m.nk++] = strides[d];
      rows *= x.shape()[d];
    }
  }
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "MeanVarianceNormalization", [&](auto tag) {
    using T = decltype(tag);
    mvn_rows<T><<<grid_for_rows(rows), row_threads(cnt), 0, env.stream()>>>(data_of<T>(x), data_of<T>(y), m, rows, cnt);
    R1_GPU_CHECK_LAUNCH();
  });
}

bool mvn_supports(const Node& n) {
  if (n.inputs.size() == 1 && n.inputs[0] && n.inputs[0]->has_shape &&
      n.inputs[0]->shape.size() > static_cast<size_t>(kMaxDims))
    return false;
  return same_float_supports(n);
}
bool lp_norm_supports(const Node& n) {
  const int64_t p = n.attrs.get_int("p", 2);
  return (p == 1 || p == 2) && same_float_supports(n);
}

}  // namespace

void register_normalization_kernels(KernelTable& t) {
  t.add("GroupNormalization", group_norm, "", 0, same_float_supports);
  t.add("InstanceNormalization", instance_norm, "", 0, same_float_supports);
  t.add("LpNormalization", lp_norm, "", 0, lp_norm_supports);
  t.add("MeanVarianceNormalization", mvn, "", 0, mvn_supports);
}
}  // namespace r1::gpu
