#include "r1/core/hw_profile.h"

namespace r1 {
namespace {
CpuTileParams& tiles() {
  static CpuTileParams t;
  return t;
}
}  // namespace

const CpuTileParams& cpu_tiles() { return tiles(); }
void set_cpu_tiles(const CpuTileParams& p) { tiles() = p; }

}  // namespace r1
