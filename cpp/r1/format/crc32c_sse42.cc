// The SSE4.2 path of crc32c_lanes (crc32c.h). Compiled with -msse4.2 (CMakeLists.txt: *_sse42.cc); raw
// pointers only, as every ISA-specific file (an inline std template compiled here could be the copy the
// linker keeps for CPUs without SSE4.2).
#include <cstring>

#include "r1/format/crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>

namespace r1::format {

void crc32c_lanes_sse42(const void* data, size_t n, uint32_t lanes[4]) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a = _mm_crc32_u64(a, w[0]);
    b = _mm_crc32_u64(b, w[1]);
    c = _mm_crc32_u64(c, w[2]);
    d = _mm_crc32_u64(d, w[3]);
  }
  uint64_t* lane[4] = {&a, &b, &c, &d};
  for (size_t w = 0; i + 8 <= n; i += 8, ++w) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    *lane[w] = _mm_crc32_u64(*lane[w], v);
  }
  uint32_t a32 = static_cast<uint32_t>(a);
  for (; i < n; ++i) a32 = _mm_crc32_u8(a32, p[i]);
  lanes[0] = a32;
  lanes[1] = static_cast<uint32_t>(b);
  lanes[2] = static_cast<uint32_t>(c);
  lanes[3] = static_cast<uint32_t>(d);
}

}  // namespace r1::format
#else
namespace r1::format {
void crc32c_lanes_sse42(const void* data, size_t n, uint32_t lanes[4]) { crc32c_lanes_portable(data, n, lanes); }
}  // namespace r1::format
#endif
