// CPU kernel of r1::SkipLayerNorm (contract: cpp/r1/passes/README.md).
//   SkipLayerNorm: per row, one pass over memory adds X + skip (+ bias) while summing (double), then
//   the centred variance and the normalisation run over the row while it is still in L1.
// 16-bit float tensors are staged through fp32 rows.
// Selects over float arithmetic only vectorize without trapping math (see elementwise_math.h).
#pragma GCC optimize("no-trapping-math")
#include <cmath>
#include <string>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/elementwise_util.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/reduce_simd.h"

namespace r1::cpu {
namespace {

bool use_avx512() {
  static const bool v = cpu_features().has_avx512_kernels();
  return v;
}

std::vector<float> param_floats(const Tensor& t, int64_t n, const char* what) {
  R1_CHECK(t.numel() == n, InputError) << "SkipLayerNorm: " << what << " has " << t.numel()
                                       << " elements, the hidden size is " << n;
  std::vector<float> v(n);
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(p[i]);
  });
  return v;
}

// Element offset of each row of X (rows of the last dim) in `skip`, which broadcasts to X.
// *last_step is skip's stride along the row: 1, or 0 when its last dim is 1.
std::vector<int64_t> skip_row_offsets(const Shape& xs, const Shape& ss, int64_t* last_step) {
  const size_t r = xs.size(), off = r - ss.size();
  R1_CHECK(ss.size() <= r, InputError) << "SkipLayerNorm: skip " << shape_str(ss) << " does not broadcast to X "
                                       << shape_str(xs);
  std::vector<int64_t> st(r, 0);
  int64_t stride = 1;
  for (size_t d = ss.size(); d-- > 0;) {
    R1_CHECK(ss[d] == xs[d + off] || ss[d] == 1, InputError)
        << "SkipLayerNorm: skip " << shape_str(ss) << " does not broadcast to X " << shape_str(xs);
    st[d + off] = ss[d] == 1 ? 0 : stride;
    stride *= ss[d];
  }
  *last_step = st[r - 1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < r; ++d) rows *= xs[d];
  std::vector<int64_t> offs(rows, 0);
  std::vector<int64_t> idx(r, 0);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t o = 0;
    for (size_t d = 0; d + 1 < r; ++d) o += idx[d] * st[d];
    offs[row] = o;
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < xs[d]) break;
      idx[d] = 0;
    }
  }
  return offs;
}

template <class T>
const float* stage_row(const T* p, int64_t n, std::vector<float>& buf) {
  if constexpr (std::is_same_v<T, float>) {
    return p;
  } else {
    for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<float>(p[i]);
    return buf.data();
  }
}

template <class T>
void store_row(const float* s, T* d, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (s != d) std::copy(s, s + n, d);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = T(s[i]);
  }
}

void skip_layernorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& skip = ctx.input(1);
  R1_CHECK(skip.dtype() == x.dtype(), InputError) << "SkipLayerNorm: X and skip must share a dtype";
  const Shape& xs = x.shape();
  R1_CHECK(!xs.empty(), InputError) << "SkipLayerNorm: X must be at least 1-D";
  const int64_t n = xs.back();
  const float eps = ctx.attrs().get_float("epsilon", 1e-5f);
  Tensor& y = ctx.output(0);
  Tensor* sum_out = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  if (x.numel() == 0) return;
  const std::vector<float> gamma = param_floats(ctx.input(2), n, "gamma");
  std::vector<float> beta, bias;
  if (ctx.has_input(3)) beta = param_floats(ctx.input(3), n, "beta");
  if (ctx.has_input(4)) bias = param_floats(ctx.input(4), n, "bias");
  int64_t skip_step = 1;
  const bool same = skip.shape() == xs;
  std::vector<int64_t> soffs;
  if (!same) soffs = skip_row_offsets(xs, skip.shape(), &skip_step);
  const int64_t rows = x.numel() / n;
  const bool avx = use_avx512();
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* ps = skip.data<T>();
    T* py = y.data<T>();
    T* psum = sum_out ? sum_out->data<T>() : nullptr;
    const float* g = gamma.data();
    const float* be = beta.empty() ? nullptr : beta.data();
    const float* bi = bias.empty() ? nullptr : bias.data();
    ctx.pool().parallel_for(0, rows, std::max<int64_t>(1, 4096 / n), [&](int64_t r0, int64_t r1) {
      std::vector<float> xb(n), sb(n), acc(n), yb(n);
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = stage_row(px + r * n, n, xb);
        const float* sr;
        if (same) {
          sr = stage_row(ps + r * n, n, sb);
        } else if (skip_step == 0) {
          std::fill(sb.begin(), sb.end(), static_cast<float>(ps[soffs[r]]));
          sr = sb.data();
        } else {
          sr = stage_row(ps + soffs[r], n, sb);
        }
        // The residual sum goes straight into the `sum` output when it is fp32.
        float* s = acc.data();
        if constexpr (std::is_same_v<T, float>) {
          if (psum) s = psum + r * n;
        }
        float* yr = yb.data();
        if constexpr (std::is_same_v<T, float>) yr = py + r * n;
        double mean, var;
        if (avx) {
          mean = add_row_sum_avx512(xr, sr, bi, s, n) / static_cast<double>(n);
          var = row_sq_dev_avx512(s, n, mean) / static_cast<double>(n);
        } else {
          for (int64_t j = 0; j < n; ++j) s[j] = xr[j] + sr[j] + (bi ? bi[j] : 0.0f);
          simd::row_mean_var_fast(s, n, &mean, &var);
        }
        const float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        if (avx)
          normalize_row_avx512(s, yr, n, static_cast<float>(mean), inv, g, be);
        else
          simd::normalize_row_f(s, yr, n, static_cast<float>(mean), inv, g, be);
        store_row(yr, py + r * n, n);
        if (psum) store_row(s, psum + r * n, n);
      }
    });
  });
}

}  // namespace

void register_skip_layernorm_kernels(KernelTable& t) { t.add("SkipLayerNorm", skip_layernorm_kernel, "r1"); }
}  // namespace r1::cpu
