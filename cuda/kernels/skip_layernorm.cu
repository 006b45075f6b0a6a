// r1::SkipLayerNorm on the GPU (contract: cpp/r1/passes/README.md).
//   SkipLayerNorm: one block per row of the last axis; sum = X + skip (+ bias) is recomputed on each
//   of the three passes (mean, centred variance, normalise + write) rather than kept, as
//   LayerNormalization does; fp32 block reductions (row_reduce.cuh). skip broadcasts to X (its row
//   offset comes from X's leading dims, its step along the row is 1 or 0). gamma / beta / bias may
//   each have their own float dtype, read through a dtype code.
#include <cfloat>
#include <string>

#include "elementwise.cuh"
#include "families.h"
#include "row_reduce.cuh"

namespace r1::gpu {
namespace {

// A [hidden] parameter of any float dtype (kind 0 f32, 1 f16, 2 bf16); p == nullptr: absent.
struct Param {
  const void* p = nullptr;
  int kind = 0;
};

__device__ __forceinline__ float load_param(const Param& a, int64_t j) {
  if (a.kind == 0) return static_cast<const float*>(a.p)[j];
  const uint16_t v = static_cast<const uint16_t*>(a.p)[j];
  return a.kind == 1 ? F16::load(v) : BF16::load(v);
}

// Offset of row `row` of X in skip: X's leading dims (all but the last) with skip's strides (0 where
// skip broadcasts). `step` is skip's stride along the row (1, or 0 when its last dim is 1).
struct SkipIndex {
  int rank = 0;  // leading dims
  int64_t dims[kMaxRank] = {};
  int64_t st[kMaxRank] = {};
  int64_t step = 1;
  bool same = true;  // skip has X's shape: offset row * n
};

__device__ __forceinline__ int64_t skip_row_offset(const SkipIndex& s, int64_t row, int64_t n) {
  if (s.same) return row * n;
  int64_t off = 0, rest = row;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t q = rest / s.dims[d];
    off += (rest - q * s.dims[d]) * s.st[d];
    rest = q;
  }
  return off;
}

template <class T>
__global__ void skip_layernorm_rows(const typename T::storage* x, const typename T::storage* skip, SkipIndex si,
                                    Param gamma, Param beta, Param bias, typename T::storage* y,
                                    typename T::storage* sum_out, int64_t rows, int64_t n, float eps) {
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const typename T::storage* xr = x + row * n;
    const typename T::storage* sr = skip + skip_row_offset(si, row, n);
    const int64_t step = si.step;
    auto value = [&](int64_t j) {
      float v = T::load(xr[j]) + T::load(sr[j * step]);
      if (bias.p) v += load_param(bias, j);
      return v;
    };
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += value(j);
    const float mean = block_reduce(s, SumOp{}, scratch) / static_cast<float>(n);
    float q = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float d = value(j) - mean;
      q += d * d;
    }
    const float rstd = 1.0f / sqrtf(block_reduce(q, SumOp{}, scratch) / static_cast<float>(n) + eps);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float v = value(j);
      if (sum_out) sum_out[row * n + j] = T::store(v);
      float o = (v - mean) * rstd * load_param(gamma, j);
      if (beta.p) o += load_param(beta, j);
      y[row * n + j] = T::store(o);
    }
  }
}

int param_kind(DType t) { return t == DType::Float32 ? 0 : t == DType::Float16 ? 1 : 2; }

void skip_layernorm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& skip = ctx.input(1);
  const std::string label = ctx.node().label();
  check_same_dtype(ctx, x, skip);
  const Shape& xs = x.shape();
  const Shape& ss = skip.shape();
  R1_CHECK(!xs.empty(), InputError) << "SkipLayerNorm " << label << ": X must be at least 1-D";
  const int r = static_cast<int>(xs.size());
  const int64_t n = xs.back();
  const float eps = ctx.attrs().get_float("epsilon", 1e-5f);

  SkipIndex si;
  si.same = ss == xs;
  if (!si.same) {
    R1_CHECK(ss.size() <= xs.size(), InputError)
        << "SkipLayerNorm " << label << ": skip " << shape_str(ss) << " does not broadcast to X " << shape_str(xs);
    R1_CHECK(r - 1 <= kMaxRank, InputError) << "SkipLayerNorm " << label << ": X of rank " << r
                                            << " with a broadcast skip (at most " << kMaxRank + 1 << ")";
    const int off = r - static_cast<int>(ss.size());
    std::vector<int64_t> st(r, 0);
    int64_t stride = 1;
    for (int d = static_cast<int>(ss.size()) - 1; d >= 0; --d) {
      R1_CHECK(ss[d] == xs[d + off] || ss[d] == 1, InputError)
          << "SkipLayerNorm " << label << ": skip " << shape_str(ss) << " does not broadcast to X " << shape_str(xs);
      st[d + off] = ss[d] == 1 ? 0 : stride;
      stride *= ss[d];
    }
    si.rank = r - 1;
    for (int d = 0; d + 1 < r; ++d) {
      si.dims[d] = xs[d];
      si.st[d] = st[d];
    }
    si.step = st[r - 1];
  }

  Param params[3];  // gamma, beta, bias
  static const char* kNames[3] = {"gamma", "beta", "bias"};
  for (int k = 0; k < 3; ++k) {
    if (!ctx.has_input(2 + k)) continue;
    const Tensor& t = ctx.input(2 + k);
    R1_CHECK(is_float(t.dtype()), InputError) << "SkipLayerNorm " << label << ": " << kNames[k] << " of dtype "
                                              << dtype_name(t.dtype()) << " (needs a float dtype)";
    R1_CHECK(t.numel() == n, InputError) << "SkipLayerNorm " << label << ": " << kNames[k] << " has " << t.numel()
                                         << " elements, the hidden size is " << n;
    params[k].p = t.raw();
    params[k].kind = param_kind(t.dtype());
  }
  R1_CHECK(params[0].p != nullptr || n == 0, InputError) << "SkipLayerNorm " << label << ": gamma is required";

  Tensor& y = ctx.output(0);
  Tensor* sum_out = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  if (sum_out)
    R1_CHECK(sum_out->dtype() == x.dtype(), ModelError)
        << "SkipLayerNorm " << label << ": the sum output must have X's dtype";
  if (x.numel() == 0) return;
  const int64_t rows = x.numel() / n;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), "SkipLayerNorm", [&](auto tag) {
    using T = decltype(tag);
    const unsigned grid = static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20));
    skip_layernorm_rows<T><<<grid, row_threads(n), 0, env.stream()>>>(
        data_of<T>(x), data_of<T>(skip), si, params[0], params[1], params[2], data_of<T>(y),
        sum_out ? data_of<T>(*sum_out) : nullptr, rows, n, eps);
    R1_GPU_CHECK_LAUNCH();
  });
}

}  // namespace

void register_skip_layernorm_kernels(KernelTable& t) { t.add("SkipLayerNorm", skip_layernorm, "r1"); }
}  // namespace r1::gpu
