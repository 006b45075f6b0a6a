// CRC-32C (Castagnoli) over 4 interleaved lanes: the segment hash of the .r1 checksum (format version 2).
//
//   uint32_t lanes[4] = {s0, s1, s2, s3};
//   crc32c_lanes(data, n, lanes);   // SSE4.2 where the CPU has it (~25 GB/s a core), else tables (~2 GB/s)
//
// 8-byte word w of the data goes to lane w % 4; the n % 8 tail bytes go to lane 0. No pre- or
// post-inversion: each lane is the running value the SSE4.2 crc32 instruction keeps. Four lanes keep
// four independent instruction chains in flight (crc32 has a latency of 3 cycles and a throughput of 1).
#pragma once
#include <cstddef>
#include <cstdint>

namespace r1::format {

void crc32c_lanes(const void* data, size_t n, uint32_t lanes[4]);
// The portable table path alone (tests hold the hardware path to it).
void crc32c_lanes_portable(const void* data, size_t n, uint32_t lanes[4]);

// Defined in crc32c_sse42.cc (compiled with -msse4.2; called only where the CPU has SSE4.2).
void crc32c_lanes_sse42(const void* data, size_t n, uint32_t lanes[4]);

}  // namespace r1::format
