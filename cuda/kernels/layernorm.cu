// LayerNormalization over the trailing dims from `axis` (float32 / float16 / bfloat16), one
// block per row. Two passes over the row (mean, then the mean of squared deviations) rather
// than E[x^2] - E[x]^2, which cancels badly for rows with a large mean. Optional outputs Mean
// and InvStdDev are float32, as shape inference types them.
#include "elementwise.cuh"
#include "families.h"
#include "row_reduce.cuh"

namespace r1::gpu {
namespace {

template <class T>
__global__ void layernorm_rows(const typename T::storage* x, const typename T::storage* scale,
                               const typename T::storage* bias, typename T::storage* y, float* mean_out,
                               float* rstd_out, int64_t rows, int64_t n, float eps) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const typename T::storage* xr = x + row * n;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += T::load(xr[j]);
    const float mean = block_reduce(s, SumOp{}, scratch) / static_cast<float>(n);
    float q = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      float d = T::load(xr[j]) - mean;
      q += d * d;
    }
    const float rstd = rsqrtf(block_reduce(q, SumOp{}, scratch) / static_cast<float>(n) + eps);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      float v = (T::load(xr[j]) - mean) * rstd * T::load(scale[j]);
      if (bias) v += T::load(bias[j]);
      y[row * n + j] = T::store(v);
    }
    if (threadIdx.x == 0) {
      if (mean_out) mean_out[row] = mean;
      if (rstd_out) rstd_out[row] = rstd;
    }
  }
}

void layernorm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank);
  int64_t n = 1;
  for (int d = axis; d < rank; ++d) n *= x.shape()[d];
  const float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  // Scale and B are the normalized shape itself; broadcasting smaller ones is left to a later pass.
  R1_CHECK(scale.numel() == n && (!bias || bias->numel() == n), InputError)
      << "node " << ctx.node().label() << ": Scale and B must have " << n << " elements (the normalized shape)";
  check_same_dtype(ctx, x, scale);
  if (bias) check_same_dtype(ctx, x, *bias);
  float* stats[2] = {nullptr, nullptr};
  for (int i = 1; i <= 2; ++i) {
    if (!ctx.has_output(i)) continue;
    Tensor& o = ctx.output(i);
    R1_CHECK(o.dtype() == DType::Float32, ModelError)
        << "node " << ctx.node().label() << ": output " << i << " must be float32 on " R1_GPU_BACKEND_NAME;
    stats[i - 1] = static_cast<float*>(o.raw());
  }
  if (x.numel() == 0 || n == 0) return;
  const int64_t rows = x.numel() / n;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "LayerNormalization", [&](auto tag) {
    using T = decltype(tag);
    unsigned grid = static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20));
    layernorm_rows<T><<<grid, row_threads(n), 0, env.stream()>>>(data_of<T>(x), data_of<T>(scale),
                                                                 bias ? data_of<T>(*bias) : nullptr, data_of<T>(y),
                                                                 stats[0], stats[1], rows, n, eps);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_layernorm_kernels(KernelTable& t) { t.add("LayerNormalization", layernorm); }
}  // namespace r1::gpu
