// int8 convolution (precision="int8" on r1::FusedConv): uint8 activations x int8 weights on VNNI, int32
// accumulation, fp32 epilogue. conv_s8.cc drives it; the tile kernels live in conv_s8_avx512.cc (VNNI) and
// conv_s8.cc (portable, the same integers).
//
// Layouts. The input image is quantized once per call (per image: its range, 0 included, as ONNX's
// DynamicQuantizeLinear; or a model's static scale) into X4 [ceil(C/4)][H][W][4]: the channels of a pixel
// in groups of four, zero past C. K is ordered (ky, kx, channel quad), so one K quad of one output pixel is
// one 32-bit word of X4 and a 48-pixel panel row is, for stride 1 inside the image, 192 contiguous bytes.
// The weights are W8 [M][Kq * 4] in that K order (zero past each channel group's end), with per output
// channel scales (max|w| / 127) and sums of their integers, quantized once per constant.
//   y[m, p] = (acc - zero * wsum[m]) * (scale * wscale[m]), then bias, residual and activation.
#pragma once
#include <cstdint>

namespace r1::cpu {

// One task's tile: `rows` output channels x `np` (<= 48) output pixels of one image and group.
struct ConvS8Tile {
  int64_t kq = 0;                  // K quads
  const uint8_t* panel = nullptr;  // quad q of pixel j at panel + q * panel_stride + 4 j (48 pixels readable)
  int64_t panel_stride = 192;      // bytes: 192 for a gathered panel, H * W * 4 when it is X4 itself
  const int8_t* w = nullptr;       // row r at w + r * ldw (4 kq bytes)
  int64_t ldw = 0;
  const int32_t* wsum = nullptr;  // per row
  const float* wscale = nullptr;  // per row
  int64_t rows = 0, np = 0;
  int32_t a_zero = 0;
  float a_scale = 1.f;
  float* y = nullptr;  // row r, pixel j at y[r * ldy + j]
  int64_t ldy = 0;
};

void conv_s8_tile_avx512(const ConvS8Tile& t);
void conv_s8_tile_ref(const ConvS8Tile& t);

// x [C][HW] fp32 -> X4 [ceil(C/4)][HW][4] uint8: q = clamp(round(x / scale) + zero, 0, 255), 0 past C.
void quantize_x4_avx512(const float* x, int64_t C, int64_t HW, float scale, int32_t zero, uint8_t* x4);
void quantize_x4_ref(const float* x, int64_t C, int64_t HW, float scale, int32_t zero, uint8_t* x4);

}  // namespace r1::cpu
