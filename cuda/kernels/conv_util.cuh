// r1/ir/ops/conv_util.h (the conv / pool geometry shared with the CPU and shape inference) for GPU
// sources. It trips two nvcc front-end warnings (a throw-only tail, a set-but-unused flag),
// silenced for that header only.
#pragma once
#include <cstdint>
#include <vector>

#if defined(__NVCC__)
#pragma nv_diag_suppress 940
#pragma nv_diag_suppress 550
#endif
#include "r1/ir/ops/conv_util.h"
#if defined(__NVCC__)
#pragma nv_diag_default 940
#pragma nv_diag_default 550
#endif

namespace r1::gpu {

// A conv / pool geometry of 1 to 3 spatial dims as three (D, H, W): leading dims of size 1, stride
// and dilation 1, no padding. The kernels index three spatial dims whatever the rank.
struct Geom3 {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
};

inline Geom3 as_3d(const conv_geom::Geom& g, int nd) {
  Geom3 r;
  const int lead = 3 - nd;
  auto at = [](const std::vector<int64_t>& v, int j, int64_t lead_value) {
    return j < 0 || j >= static_cast<int>(v.size()) ? lead_value : v[j];
  };
  for (int i = 0; i < 3; ++i) {
    const int j = i - lead;
    r.in[i] = at(g.in, j, 1);
    r.out[i] = at(g.out, j, 1);
    r.k[i] = at(g.k, j, 1);
    r.s[i] = at(g.s, j, 1);
    r.d[i] = at(g.d, j, 1);
    r.pb[i] = at(g.pb, j, 0);
    r.pe[i] = at(g.pe, j, 0);
  }
  return r;
}

}  // namespace r1::gpu
