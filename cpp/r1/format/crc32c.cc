#include "r1/format/crc32c.h"

#include <cstring>

namespace r1::format {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // CRC-32C, reflected

// Slicing by 8: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

uint32_t word_update(const Tables& T, uint32_t crc, uint64_t w) {
  w ^= crc;
  return T.t[7][w & 0xFF] ^ T.t[6][(w >> 8) & 0xFF] ^ T.t[5][(w >> 16) & 0xFF] ^ T.t[4][(w >> 24) & 0xFF] ^
         T.t[3][(w >> 32) & 0xFF] ^ T.t[2][(w >> 40) & 0xFF] ^ T.t[1][(w >> 48) & 0xFF] ^ T.t[0][w >> 56];
}

bool has_sse42() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
#else
  return false;
#endif
}

}  // namespace

void crc32c_lanes_portable(const void* data, size_t n, uint32_t lanes[4]) {
  const Tables& T = tables();
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const size_t words = n / 8;
  for (size_t w = 0; w < words; ++w) {
    uint64_t v;
    std::memcpy(&v, p + 8 * w, 8);  // little-endian hosts only (x86-64, aarch64), as the file format
    lanes[w % 4] = word_update(T, lanes[w % 4], v);
  }
  for (size_t i = 8 * words; i < n; ++i) lanes[0] = (lanes[0] >> 8) ^ T.t[0][(lanes[0] ^ p[i]) & 0xFF];
}

void crc32c_lanes(const void* data, size_t n, uint32_t lanes[4]) {
  if (has_sse42()) {
    crc32c_lanes_sse42(data, n, lanes);
  } else {
    crc32c_lanes_portable(data, n, lanes);
  }
}

}  // namespace r1::format
