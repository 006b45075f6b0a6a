// CPU pooling kernels: MaxPool (+ Indices), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool,
// GlobalLpPool. Spatial ranks 1-3 run as 3-D with leading unit dims; each (n, c) plane is a task.
#include <algorithm>
#include <cmath>
#include <limits>

#include "r1/core/cpu_features.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/conv_util.h"

namespace r1::cpu {
namespace {

enum class PoolKind { Max, Avg, Lp };

// Per spatial dim and output index: the valid input positions of the window (begin/end into pos)
// and how many taps fall inside the explicitly padded extent (count_include_pad divisor).
struct DimWindows {
  std::vector<int64_t> begin, end, pos, padded_count;
};

DimWindows dim_windows(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  DimWindows w;
  for (int64_t o = 0; o < out; ++o) {
    int64_t start = o * s - pb;
    w.begin.push_back(static_cast<int64_t>(w.pos.size()));
    int64_t cnt = 0;
    for (int64_t t = 0; t < k; ++t) {
      int64_t p = start + t * d;
      if (p < in + pe) ++cnt;
      if (p >= 0 && p < in) w.pos.push_back(p);
    }
    w.end.push_back(static_cast<int64_t>(w.pos.size()));
    w.padded_count.push_back(cnt);
  }
  return w;
}

void pool_kernel(KernelContext& ctx, PoolKind kind) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Shape& xs = x.shape();
  int nd = x.rank() - 2;
  R1_CHECK(nd >= 1 && nd <= 3, ModelError) << "pooling over " << nd << " spatial dims is not supported";
  Shape in_sp(xs.begin() + 2, xs.end());
  std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
  conv_geom::Geom g = conv_geom::forward(ctx.attrs(), in_sp, k, true);
  bool count_pad = ctx.attrs().get_int("count_include_pad", 0) != 0;
  int64_t p_norm = ctx.attrs().get_int("p", 2);
  int storage_order = static_cast<int>(ctx.attrs().get_int("storage_order", 0));
  Tensor* ind = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  if (y.numel() == 0) return;
  if (kind == PoolKind::Max && !ind && nd <= 2 && x.dtype() == DType::Float32 && cpu_features().has_avx512_kernels()) {
    // 16 output columns per step from a padded copy of the plane: the window loops below are scalar.
    bool one_d = nd == 1;
    Plane2d q{one_d ? 1 : g.in[0], g.in[nd - 1], one_d ? 1 : g.k[0], g.k[nd - 1], one_d ? 1 : g.out[0], g.out[nd - 1],
              one_d ? 1 : g.s[0],  g.s[nd - 1],  one_d ? 1 : g.d[0], g.d[nd - 1], one_d ? 0 : g.pb[0],  g.pb[nd - 1]};
    int64_t is = q.H * q.W, os = q.OH * q.OW;
    const float* px = x.data<float>();
    float* py = y.data<float>();
    int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(os * q.KH * q.KW, 1));
    int64_t scratch_floats = conv_avx512::plane_scratch_floats(q);
    ctx.pool().parallel_for(0, xs[0] * xs[1], grain, [&](int64_t b, int64_t e) {
      thread_local std::vector<float> scratch;  // kept between calls: a fresh one costs its page faults
      if (scratch.size() < static_cast<size_t>(scratch_floats)) scratch.resize(static_cast<size_t>(scratch_floats));
      for (int64_t pl = b; pl < e; ++pl) conv_avx512::maxpool_plane(px + pl * is, py + pl * os, q, scratch.data());
    });
    return;
  }
  // Pad to 3-D.
  int64_t I[3], O[3];
  DimWindows win[3];
  for (int i = 0; i < 3; ++i) {
    int j = i - (3 - nd);
    if (j < 0) {
      I[i] = O[i] = 1;
      win[i] = dim_windows(1, 1, 1, 1, 1, 0, 0);
    } else {
      I[i] = g.in[j];
      O[i] = g.out[j];
      win[i] = dim_windows(g.in[j], g.out[j], g.k[j], g.s[j], g.d[j], g.pb[j], g.pe[j]);
    }
  }
  int64_t IS = I[0] * I[1] * I[2], OS = O[0] * O[1] * O[2], KS = 1;
  for (int64_t kk : g.k) KS *= kk;
  int64_t planes = xs[0] * xs[1];
  int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(OS * KS, 1));
  int64_t* pind = ind ? ind->data<int64_t>() : nullptr;
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
      R1_THROW(ModelError) << "pooling of " << dtype_name(x.dtype()) << " is not supported";
    } else {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      ctx.pool().parallel_for(0, planes, grain, [&](int64_t b, int64_t e) {
        for (int64_t pl = b; pl < e; ++pl) {
          const T* xp = px + pl * IS;
          T* yp = py + pl * OS;
          for (int64_t o0 = 0; o0 < O[0]; ++o0)
            for (int64_t o1 = 0; o1 < O[1]; ++o1)
              for (int64_t o2 = 0; o2 < O[2]; ++o2) {
                int64_t oi = (o0 * O[1] + o1) * O[2] + o2;
                if (kind == PoolKind::Max) {
                  float best = -std::numeric_limits<float>::infinity();
                  int64_t bi = -1;
                  for (int64_t a = win[0].begin[o0]; a < win[0].end[o0]; ++a)
                    for (int64_t c = win[1].begin[o1]; c < win[1].end[o1]; ++c) {
                      int64_t rowoff = (win[0].pos[a] * I[1] + win[1].pos[c]) * I[2];
                      for (int64_t q = win[2].begin[o2]; q < win[2].end[o2]; ++q) {
                        int64_t off = rowoff + win[2].pos[q];
                        float v = static_cast<float>(xp[off]);
                        if (bi < 0 || v > best) {
                          best = v;
                          bi = off;
                        }
                      }
                    }
                  yp[oi] = convert<T>(best);
                  if (pind) {
                    int64_t idx = bi;
                    if (storage_order == 1 && bi >= 0) {
                      int64_t h = bi / I[2], w = bi % I[2];
                      idx = h + w * I[1];
                    }
                    pind[pl * OS + oi] = pl * IS + idx;
                  }
                } else {
                  float acc = 0.f;
                  int64_t n = 0;
                  for (int64_t a = win[0].begin[o0]; a < win[0].end[o0]; ++a)
                    for (int64_t c = win[1].begin[o1]; c < win[1].end[o1]; ++c) {
                      const T* row = xp + (win[0].pos[a] * I[1] + win[1].pos[c]) * I[2];
                      for (int64_t q = win[2].begin[o2]; q < win[2].end[o2]; ++q) {
                        float v = static_cast<float>(row[win[2].pos[q]]);
                        if (kind == PoolKind::Avg) {
                          acc += v;
                        } else {
                          float av = std::fabs(v);
                          acc += p_norm == 2 ? av * av : (p_norm == 1 ? av : std::pow(av, static_cast<float>(p_norm)));
                        }
                        ++n;
                      }
                    }
                  float r;
                  if (kind == PoolKind::Avg) {
                    int64_t div =
                        count_pad ? win[0].padded_count[o0] * win[1].padded_count[o1] * win[2].padded_count[o2] : n;
                    r = div > 0 ? acc / static_cast<float>(div) : 0.f;
                  } else {
                    r = p_norm == 2 ? std::sqrt(acc)
                                    : (p_norm == 1 ? acc : std::pow(acc, 1.0f / static_cast<float>(p_norm)));
                  }
                  yp[oi] = convert<T>(r);
                }
              }
        }
      });
    }
  });
}

void max_pool(KernelContext& ctx) { pool_kernel(ctx, PoolKind::Max); }
void avg_pool(KernelContext& ctx) { pool_kernel(ctx, PoolKind::Avg); }
void lp_pool(KernelContext& ctx) { pool_kernel(ctx, PoolKind::Lp); }

void global_pool(KernelContext& ctx, PoolKind kind) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t planes = x.dim(0) * x.dim(1);
  int64_t IS = planes ? x.numel() / planes : 0;
  int64_t p_norm = ctx.attrs().get_int("p", 2);
  if (planes == 0) return;
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
      R1_THROW(ModelError) << "pooling of " << dtype_name(x.dtype()) << " is not supported";
    } else {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(IS, 1));
      ctx.pool().parallel_for(0, planes, grain, [&](int64_t b, int64_t e) {
        for (int64_t pl = b; pl < e; ++pl) {
          const T* xp = px + pl * IS;
          float r;
          if (kind == PoolKind::Max) {
            float best = IS ? static_cast<float>(xp[0]) : -std::numeric_limits<float>::infinity();
            for (int64_t i = 1; i < IS; ++i) best = std::max(best, static_cast<float>(xp[i]));
            r = best;
          } else if (kind == PoolKind::Avg) {
            // Blocked partial sums keep fp32 rounding error low and let the loop vectorize.
            float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t i = 0;
            for (; i + 8 <= IS; i += 8)
              for (int t = 0; t < 8; ++t) part[t] += static_cast<float>(xp[i + t]);
            float acc = 0.f;
            for (; i < IS; ++i) acc += static_cast<float>(xp[i]);
            for (int t = 0; t < 8; ++t) acc += part[t];
            r = IS ? acc / static_cast<float>(IS) : 0.f;
          } else {
            float acc = 0.f;
            for (int64_t i = 0; i < IS; ++i) {
              float av = std::fabs(static_cast<float>(xp[i]));
              acc += p_norm == 2 ? av * av : std::pow(av, static_cast<float>(p_norm));
            }
            r = p_norm == 2 ? std::sqrt(acc) : std::pow(acc, 1.0f / static_cast<float>(p_norm));
          }
          py[pl] = convert<T>(r);
        }
      });
    }
  });
}

void global_avg_pool(KernelContext& ctx) { global_pool(ctx, PoolKind::Avg); }
void global_max_pool(KernelContext& ctx) { global_pool(ctx, PoolKind::Max); }
void global_lp_pool(KernelContext& ctx) { global_pool(ctx, PoolKind::Lp); }

}  // namespace

void register_pool_kernels(KernelTable& t) {
  t.add("MaxPool", max_pool);
  t.add("AveragePool", avg_pool);
  t.add("LpPool", lp_pool);
  t.add("GlobalAveragePool", global_avg_pool);
  t.add("GlobalMaxPool", global_max_pool);
  t.add("GlobalLpPool", global_lp_pool);
}
}  // namespace r1::cpu
