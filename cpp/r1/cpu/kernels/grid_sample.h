// CPU kernels of GridSample and AffineGrid (registered with the image_geometry family).
#pragma once
#include "r1/backend/kernel.h"

namespace r1::cpu {
void grid_sample(KernelContext& ctx);
void affine_grid(KernelContext& ctx);
}  // namespace r1::cpu
