// The prepack hook of the CPU's r1::FusedMatMul kernel (KernelEntry::prepack), run by the
// weight_prepack pass at compile time (ModelConverter for a CPU profile row) or at load.
//
//   t.add("FusedMatMul", fused_matmul_kernel, "r1").with_prepack(cpu::gemm::prepack_fused_matmul);
//
// For a target CPU whose GEMM microkernels are AVX-512 (CpuFeatures::has_avx512_kernels), a constant
// 2-D float B is packed once into the panel layout of the node's precision (pack.h): node attrs
// packed_b=1, k, n, trans_b=0. A B packed in another layout (the file was compiled for fp32, the engine
// runs bf16) is packed again from its values. For any other target a packed B goes back to a plain
// fp32 [K, N] weight (packed_b=0), which the OpenBLAS path reads without per-call unpacking.
// precision="int8" (per output channel) and "int4" (group-wise) pack for every target: the portable kernels
// read the same panels as the VNNI ones.
#pragma once
#include "r1/backend/kernel.h"

namespace r1::cpu::gemm {

bool prepack_fused_matmul(Node& n, PrepackContext& ctx);

}  // namespace r1::cpu::gemm
