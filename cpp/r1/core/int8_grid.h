// Whether float weights are int8 weights in disguise: dequantized values q * s of one symmetric int8 grid
// (s = max|w| / 127). Packers keep such weights' integers exactly instead of moving them to a grid of their
// own, and the QDQ import runs products on them in int8 only then (passes/static_quant_fusion.cc).
//
//   const float m = int8_grid_max(n, [&](int64_t i) { return w[i]; });   // -1: not on a grid
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace r1 {

// The largest |v(i)| of i < count when every value is on the int8 grid of that maximum (v * 127 / max
// within 1e-3 of an integer), 0 when all are zero, -1 when they are not on the grid.
template <class V>
float int8_grid_max(int64_t count, V v) {
  float amax = 0.f;
  for (int64_t i = 0; i < count; ++i) amax = std::max(amax, std::fabs(static_cast<float>(v(i))));
  if (amax == 0.f) return 0.f;
  const double inv = 127.0 / amax;
  for (int64_t i = 0; i < count; ++i) {
    const double q = v(i) * inv;
    if (std::fabs(q - std::nearbyint(q)) > 1e-3) return -1.f;
  }
  return amax;
}

}  // namespace r1
