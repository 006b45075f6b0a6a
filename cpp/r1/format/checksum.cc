#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "r1/format/byte_io.h"
#include "r1/format/crc32c.h"

namespace r1::format {

namespace {
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t mix(uint64_t h, uint64_t w) { return rotl(h ^ (w * kP2), 31) * kP1; }
}  // namespace

uint64_t checksum64(const void* data, size_t n, uint64_t seed, size_t chunk,
                    const std::function<void(size_t, size_t)>& after_chunk) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h[4] = {seed + kP1, seed ^ kP2, seed + 1, seed - kP1};
  size_t i = 0;
  // Whole 32-byte blocks, in chunks (a multiple of 32, so the lanes see the same words either way).
  chunk = chunk ? std::max<size_t>(32, chunk / 32 * 32) : n;
  while (i + 32 <= n) {
    const size_t start = i, end = start + std::min(chunk, (n - start) / 32 * 32);
    for (; i < end; i += 32) {
      uint64_t w[4];
      std::memcpy(w, p + i, 32);
      for (int k = 0; k < 4; ++k) h[k] = mix(h[k], w[k]);
    }
    if (after_chunk) after_chunk(start, end - start);
  }
  uint64_t acc = rotl(h[0], 1) + rotl(h[1], 7) + rotl(h[2], 12) + rotl(h[3], 18) + n;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc = mix(acc, w);
  }
  for (; i < n; ++i) acc = mix(acc, p[i]);
  acc ^= acc >> 33;
  acc *= kP2;
  acc ^= acc >> 29;
  return acc;
}

uint64_t checksum64(const void* data, size_t n, uint64_t seed) { return checksum64(data, n, seed, 0, nullptr); }

namespace {
// One segment: 4 CRC-32C lanes (crc32c.h: ~25 GB/s a core with SSE4.2) seeded from `seed`, then mixed
// with the segment's length into 64 bits.
uint64_t segment_hash(const char* p, size_t len, uint64_t seed) {
  const uint64_t s2 = seed * kP1;
  uint32_t lanes[4] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(s2),
                       static_cast<uint32_t>(s2 >> 32)};
  crc32c_lanes(p, len, lanes);
  const uint64_t words[3] = {lanes[0] | uint64_t{lanes[1]} << 32, lanes[2] | uint64_t{lanes[3]} << 32, len};
  return checksum64(words, sizeof words, seed);
}
}  // namespace

uint64_t segmented_checksum(const void* data, size_t n, uint64_t seed, int threads,
                            const std::function<void(size_t, size_t)>& after_segment) {
  const char* p = static_cast<const char*>(data);
  const size_t segments = (n + kChecksumSegment - 1) / kChecksumSegment;
  std::vector<uint64_t> hashes(segments);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t s = next++; s < segments; s = next++) {
      const size_t off = s * kChecksumSegment, len = std::min(kChecksumSegment, n - off);
      hashes[s] = segment_hash(p + off, len, seed ^ (s * kP1));
      if (after_segment) after_segment(off, len);
    }
  };
  const size_t helpers = std::min<size_t>(segments, static_cast<size_t>(std::max(threads, 1))) - (segments > 0);
  std::vector<std::thread> pool;
  pool.reserve(helpers);
  for (size_t t = 0; t < helpers; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return checksum64(hashes.data(), hashes.size() * sizeof(uint64_t), seed ^ n);
}

bool valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

}  // namespace r1::format
