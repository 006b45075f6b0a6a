// cpu_features(), cpu_tiles(), set_cpu_tiles(dict): the hardware profile seen from Python. The
// table and the row choice live in python/deepseek_r1/hardware.py; this file only converts.
#include <climits>
#include <string>

#include "bind.h"
#include "r1/core/cpu_features.h"
#include "r1/core/hw_profile.h"

namespace r1::bindings {
namespace {

// Upper bounds keep a typo (an extra zero or three) from turning into a huge packing buffer.
constexpr long long kMaxBlock = 1 << 16, kMaxGrain = 1 << 30;

struct IntField {
  const char* name;
  int CpuTileParams::* member;
  long long max;
};
constexpr IntField kFields[] = {
    {"gemm_mc", &CpuTileParams::gemm_mc, kMaxBlock},
    {"gemm_kc", &CpuTileParams::gemm_kc, kMaxBlock},
    {"gemm_nc", &CpuTileParams::gemm_nc, kMaxBlock},
    {"gemm_small_m", &CpuTileParams::gemm_small_m, kMaxBlock},
    {"attn_block_q", &CpuTileParams::attn_block_q, kMaxBlock},
    {"attn_block_k", &CpuTileParams::attn_block_k, kMaxBlock},
    {"conv_direct_max_k", &CpuTileParams::conv_direct_max_k, kMaxBlock},
    {"parallel_grain", &CpuTileParams::parallel_grain, kMaxGrain},
};

py::dict features_dict() {
  const CpuFeatures& f = cpu_features();
  py::dict d;
  d["vendor"] = f.vendor;
  d["brand"] = f.brand;
  d["isa_family"] = f.isa_family();
  d["summary"] = f.summary();
  for (const auto& [name, on] : f.flags()) d[py::str(name)] = on;
  d["has_avx512_kernels"] = f.has_avx512_kernels();
  d["l1d_kb"] = f.l1d_kb;
  d["l2_kb"] = f.l2_kb;
  d["l3_kb"] = f.l3_kb;
  return d;
}

py::dict tiles_dict() {
  const CpuTileParams& t = cpu_tiles();
  py::dict d;
  d["profile"] = t.profile;
  for (const IntField& f : kFields) d[f.name] = t.*(f.member);
  return d;
}

// Validates every entry before changing anything: a bad dict leaves the tiles as they were.
// Fields not in the dict keep their current values.
void set_tiles(const py::dict& d) {
  CpuTileParams p = cpu_tiles();
  for (auto item : d) {
    if (!py::isinstance<py::str>(item.first))
      throw py::value_error("set_cpu_tiles: keys must be field names (str), got " +
                            std::string(py::str(py::type::of(item.first).attr("__name__"))));
    std::string key = item.first.cast<std::string>();
    py::handle v = item.second;
    if (key == "profile") {
      if (!py::isinstance<py::str>(v) || v.cast<std::string>().empty())
        throw py::value_error("set_cpu_tiles: 'profile' must be a non-empty str, got " + std::string(py::repr(v)));
      p.profile = v.cast<std::string>();
      continue;
    }
    const IntField* field = nullptr;
    for (const IntField& f : kFields)
      if (key == f.name) field = &f;
    if (!field) {
      std::string known = "profile";
      for (const IntField& f : kFields) known += std::string(", ") + f.name;
      throw py::value_error("set_cpu_tiles: unknown field '" + key + "' (known: " + known + ")");
    }
    // bool is an int subclass in Python; True is not a block size.
    bool ok = py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v);
    long long x = 0;
    if (ok) {
      int overflow = 0;
      x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
      ok = overflow == 0 && !(x == -1 && PyErr_Occurred()) && x >= 1 && x <= field->max;
      PyErr_Clear();
    }
    if (!ok)
      throw py::value_error("set_cpu_tiles: '" + key + "' must be an int from 1 to " + std::to_string(field->max) +
                            ", got " + std::string(py::repr(v)));
    p.*(field->member) = static_cast<int>(x);
  }
  set_cpu_tiles(p);
}

}  // namespace

void bind_hardware(py::module_& m) {
  m.def("cpu_features", &features_dict,
        "What this CPU can run (CPUID + OS-enabled state): ISA flags, vendor, brand, cache sizes.");
  m.def("cpu_tiles", &tiles_dict, "The tile and block sizes the CPU kernels use now (r1::CpuTileParams).");
  m.def("set_cpu_tiles", &set_tiles, py::arg("tiles"),
        "Replaces the given fields of the CPU tile parameters (positive ints; 'profile': the row name). "
        "Raises ValueError naming the first bad field; nothing changes then. Call before running models.");
}
}  // namespace r1::bindings
