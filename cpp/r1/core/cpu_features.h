// What this CPU can run, read once with CPUID (and XGETBV / arch_prctl for what the OS enables).
// Kernels in *_avx512.cc files are only called when the matching flags here are true.
//
//   const CpuFeatures& f = cpu_features();
//   if (f.avx512_bf16) gemm_bf16_avx512(...); else gemm_fp32(...);
#pragma once
#include <map>
#include <string>

namespace r1 {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool avx512_vbmi = false;  // vpermb / vpmultishiftqb: the 2:4 sparse int8 kernel expands its indices with them
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;  // true only when the OS granted AMX state
  std::string vendor, brand;
  int l1d_kb = 0, l2_kb = 0, l3_kb = 0;  // per core (l3: whole cache), 0 when unknown
  // "avx512" for the full set our AVX-512 kernels need (F/BW/VL/DQ + FMA), else "avx2" or "baseline".
  std::string isa_family() const;
  bool has_avx512_kernels() const { return avx512f && avx512bw && avx512vl && avx512dq && fma; }
  std::string summary() const;  // "avx512 (avx512_vnni avx512_bf16) L1d 48K L2 2048K"
  // The boolean flags by name ("avx2", "avx512_bf16", ...): the names hardware profile rows require.
  std::map<std::string, bool> flags() const;
  // A CPU described by such flags (a profile row's, to compile for a CPU other than this one); flags
  // not named are false. ModelError for an unknown name.
  static CpuFeatures from_flags(const std::map<std::string, bool>& flags);
};

const CpuFeatures& cpu_features();

}  // namespace r1
