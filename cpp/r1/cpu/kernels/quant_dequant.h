// The r1::QuantDequant loop (x rounded to a quantization grid and back), AVX-512 and portable:
//   y = (clamp(round(x / scale) + zero, qmin, qmax) - zero) * scale, round half to even.
//   quant_dequant_avx512(x, y, n, scale, zero, qmin, qmax);   // when cpu_features().has_avx512_kernels()
#pragma once
#include <cstdint>

namespace r1::cpu {

void quant_dequant_avx512(const float* x, float* y, int64_t n, float scale, float zero, float qmin, float qmax);
void quant_dequant_ref(const float* x, float* y, int64_t n, float scale, float zero, float qmin, float qmax);

}  // namespace r1::cpu
