// Tile and block sizes the kernels use, chosen from the hardware profile table
// (python/deepseek_r1/data/hardware_profiles.json) for the detected CPU. The defaults below are
// the table's "avx512" row; Python installs the row that matches this machine at import.
//
//   const CpuTileParams& t = cpu_tiles();
//   for (int64_t k0 = 0; k0 < K; k0 += t.gemm_kc) ...
#pragma once
#include <string>

namespace r1 {

struct CpuTileParams {
  std::string profile = "avx512";                    // row of the table in use
  int gemm_mc = 192, gemm_kc = 384, gemm_nc = 1024;  // GEMM cache blocks (rows of A, depth, cols of B)
  int gemm_small_m = 16;                             // M at or below this uses the packed small-M kernel, not OpenBLAS
  int attn_block_q = 64, attn_block_k = 128;         // fused attention tiles (queries, keys per block)
  int conv_direct_max_k = 3;                         // largest kernel size the direct convolution handles
  int parallel_grain = 16384;                        // elements per task below which elementwise work stays serial
};

const CpuTileParams& cpu_tiles();
void set_cpu_tiles(const CpuTileParams& p);  // not thread-safe against running kernels: call at import

}  // namespace r1
