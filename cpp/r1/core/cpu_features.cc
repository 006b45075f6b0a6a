#include "r1/core/cpu_features.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <sstream>

#include "r1/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace r1 {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

unsigned long long xgetbv0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// Linux hands out AMX tile state only to processes that ask for it (kernel >= 5.16).
bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
  Regs v = cpuid(0);
  unsigned max_leaf = v.a;
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  f.vendor = vendor;
  Regs l1 = cpuid(1);
  bool osxsave = l1.c & (1u << 27);
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM + YMM state
  bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM state
  bool os_amx = (xcr0 & 0x60000) == 0x60000;         // XTILECFG + XTILEDATA
  f.fma = os_avx && (l1.c & (1u << 12));
  f.f16c = os_avx && (l1.c & (1u << 29));
  if (max_leaf >= 7) {
    Regs l7 = cpuid(7, 0);
    f.avx2 = os_avx && (l7.b & (1u << 5));
    f.avx512f = os_avx512 && (l7.b & (1u << 16));
    f.avx512dq = os_avx512 && (l7.b & (1u << 17));
    f.avx512bw = os_avx512 && (l7.b & (1u << 30));
    f.avx512vl = os_avx512 && (l7.b & (1u << 31));
    f.avx512_vnni = os_avx512 && (l7.c & (1u << 11));
    f.avx512_vbmi = os_avx512 && (l7.c & (1u << 1));
    bool amx_bf16 = l7.d & (1u << 22), amx_tile = l7.d & (1u << 24), amx_int8 = l7.d & (1u << 25);
    if (v.a >= 7) {
      Regs l71 = cpuid(7, 1);
      f.avx512_bf16 = os_avx512 && (l71.a & (1u << 5));
    }
    if (amx_tile && os_amx && request_amx_permission()) {
      f.amx_tile = true;
      f.amx_bf16 = amx_bf16;
      f.amx_int8 = amx_int8;
    }
  }
  Regs ext = cpuid(0x80000000);
  if (ext.a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    size_t s = f.brand.find_first_not_of(' ');
    f.brand = s == std::string::npos ? "" : f.brand.substr(s);
  }
  // Deterministic cache parameters (Intel leaf 4; AMD exposes the same layout in 0x8000001D).
  unsigned cache_leaf = f.vendor == "AuthenticAMD" ? 0x8000001D : 4;
  if ((cache_leaf == 4 && max_leaf >= 4) || (cache_leaf != 4 && ext.a >= cache_leaf)) {
    for (unsigned i = 0; i < 16; ++i) {
      Regs r = cpuid(cache_leaf, i);
      unsigned type = r.a & 0x1f;
      if (type == 0) break;
      unsigned level = (r.a >> 5) & 0x7;
      long ways = ((r.b >> 22) & 0x3ff) + 1, parts = ((r.b >> 12) & 0x3ff) + 1, line = (r.b & 0xfff) + 1;
      long sets = static_cast<long>(r.c) + 1;
      int kb = static_cast<int>(ways * parts * line * sets / 1024);
      if (level == 1 && type == 1) f.l1d_kb = kb;
      if (level == 2) f.l2_kb = kb;
      if (level == 3) f.l3_kb = kb;
    }
  }
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

std::string CpuFeatures::isa_family() const {
  if (has_avx512_kernels()) return "avx512";
  if (avx2 && fma) return "avx2";
  return "baseline";
}

namespace {
using Flag = bool CpuFeatures::*;
const std::pair<const char*, Flag> kFlags[] = {{"avx2", &CpuFeatures::avx2},
                                               {"fma", &CpuFeatures::fma},
                                               {"f16c", &CpuFeatures::f16c},
                                               {"avx512f", &CpuFeatures::avx512f},
                                               {"avx512bw", &CpuFeatures::avx512bw},
                                               {"avx512vl", &CpuFeatures::avx512vl},
                                               {"avx512dq", &CpuFeatures::avx512dq},
                                               {"avx512_vnni", &CpuFeatures::avx512_vnni},
                                               {"avx512_bf16", &CpuFeatures::avx512_bf16},
                                               {"avx512_vbmi", &CpuFeatures::avx512_vbmi},
                                               {"amx_tile", &CpuFeatures::amx_tile},
                                               {"amx_bf16", &CpuFeatures::amx_bf16},
                                               {"amx_int8", &CpuFeatures::amx_int8}};
}  // namespace

std::map<std::string, bool> CpuFeatures::flags() const {
  std::map<std::string, bool> out;
  for (const auto& [name, member] : kFlags) out[name] = this->*member;
  return out;
}

CpuFeatures CpuFeatures::from_flags(const std::map<std::string, bool>& flags) {
  CpuFeatures f;
  for (const auto& [name, on] : flags) {
    const auto* it =
        std::find_if(std::begin(kFlags), std::end(kFlags), [&](const auto& kv) { return name == kv.first; });
    R1_CHECK(it != std::end(kFlags), ModelError) << "unknown CPU feature flag '" << name << "'";
    f.*(it->second) = on;
  }
  return f;
}

std::string CpuFeatures::summary() const {
  std::ostringstream os;
  os << isa_family() << " (";
  const char* sep = "";
  auto flag = [&](bool on, const char* name) {
    if (on) {
      os << sep << name;
      sep = " ";
    }
  };
  flag(avx512_vnni, "avx512_vnni");
  flag(avx512_bf16, "avx512_bf16");
  flag(amx_bf16, "amx_bf16");
  flag(amx_int8, "amx_int8");
  os << ") L1d " << l1d_kb << "K L2 " << l2_kb << "K L3 " << l3_kb << "K";
  return os.str();
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace r1
