// The int8 convolution as the conv kernels call it (conv_s8.h has the layouts and the tile kernels).
//
//   if (precision == "int8" && conv_s8_applies(a))
//     conv_forward_s8(a, conv_weights_s8(ctx, w, a, pool), ConvActQuant{}, pool);   // dynamic per image
#pragma once
#include <memory>
#include <vector>

#include "r1/cpu/kernels/conv_kernels.h"
#include "r1/cpu/kernels/conv_s8.h"

namespace r1::cpu {

// Weights as conv_s8.h lays them out, with per output channel scales and integer sums.
struct ConvWeightsS8Data {
  std::vector<int8_t> w;
  std::vector<float> scale;
  std::vector<int32_t> sum;
  int64_t kq = 0, ldw = 0;
};
struct ConvWeightsS8 {
  std::shared_ptr<const ConvWeightsS8Data> hold;
};

// How the input is quantized: its range per image (dynamic), its range over the whole batch (per_tensor:
// DynamicQuantizeLinear's, for models quantized by onnxruntime), or a model's static scale and zero point
// (uint8 domain).
struct ConvActQuant {
  bool is_static = false;
  bool per_tensor = false;
  float scale = 1.f;
  int32_t zero = 0;
};

// 1-D and 2-D convs that are not depthwise, with K (channels of a group rounded up to 4, times the kernel
// size) within the int32 accumulators' reach.
bool conv_s8_applies(const ConvArgs& a);
bool conv_s8_shape_applies(int64_t nd, int64_t c, int64_t m, int64_t group, int64_t kernel_size);
// The node's weights in the kernel's layout, once per graph constant (weight_cache.h): from an int8
// weight and its scales (input 4; conv_s8_weights.cc), or quantized per output channel from a float one.
ConvWeightsS8 conv_weights_s8(const KernelContext& ctx, const Tensor& w_tensor, const ConvArgs& a, ThreadPool& pool);
// r1::FusedConv's prepack hook (KernelEntry::prepack): precision="int8" float32 weights become int8 + scales
// (stored so in the .r1 when compiled for a CPU row).
bool prepack_fused_conv(Node& n, PrepackContext& ctx);
void conv_forward_s8(const ConvArgs& a, const ConvWeightsS8& w, const ConvActQuant& aq, ThreadPool& pool);

}  // namespace r1::cpu
