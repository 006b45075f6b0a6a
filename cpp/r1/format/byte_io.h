// Little-endian binary writer/reader for the .r1 IR section. The reader checks every length
// against the bytes left and throws ModelError on overrun, so a corrupt file cannot crash us.
#pragma once
#include <functional>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "r1/core/error.h"

namespace r1::format {

// Names in the file came from Python strings; anything else means corruption.
bool valid_utf8(const std::string& s);

class ByteWriter {
 public:
  template <class T>
  void pod(const T& v) {
    const char* p = reinterpret_cast<const char*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint32_t>(static_cast<uint32_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  void bytes(const void* p, size_t n) {
    pod<uint64_t>(n);
    buf_.insert(buf_.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod<uint32_t>(static_cast<uint32_t>(v.size()));
    for (const T& x : v) pod(x);
  }
  const std::vector<char>& data() const { return buf_; }

 private:
  std::vector<char> buf_;
};

class ByteReader {
 public:
  ByteReader(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string str() {
    uint32_t n = pod<uint32_t>();
    need(n);
    std::string s(p_, n);
    p_ += n;
    R1_CHECK(valid_utf8(s), ModelError) << "corrupt .r1 file: a name is not valid UTF-8";
    return s;
  }
  const char* bytes(uint64_t* n) {
    *n = pod<uint64_t>();
    need(*n);
    const char* p = p_;
    p_ += *n;
    return p;
  }
  template <class T>
  std::vector<T> vec() {
    uint32_t n = pod<uint32_t>();
    need(static_cast<uint64_t>(n) * sizeof(T));
    std::vector<T> v(n);
    for (auto& x : v) x = pod<T>();
    return v;
  }
  // Counts read before allocating, bounded by what could possibly fit in the remaining bytes.
  uint32_t count(size_t min_bytes_each) {
    uint32_t n = pod<uint32_t>();
    R1_CHECK(static_cast<uint64_t>(n) * min_bytes_each <= static_cast<uint64_t>(end_ - p_), ModelError)
        << "corrupt .r1 file: a count of " << n << " exceeds the data left";
    return n;
  }
  bool done() const { return p_ == end_; }

 private:
  void need(uint64_t n) {
    R1_CHECK(n <= static_cast<uint64_t>(end_ - p_), ModelError) << "corrupt .r1 file: the model section is truncated";
  }
  const char* p_;
  const char* end_;
};

// A fast 64-bit checksum (4 independent multiply-rotate lanes over 8-byte words): ~10 GB/s,
// so verifying a 100 MB model costs ~10 ms at load.
uint64_t checksum64(const void* data, size_t n, uint64_t seed = 0);
// The same value, computed `chunk` bytes at a time with after_chunk(offset, length) called after
// each (load_r1 drops each verified chunk of a mapped file from memory, so verifying a model does not
// make all of it resident at once).
uint64_t checksum64(const void* data, size_t n, uint64_t seed, size_t chunk,
                    const std::function<void(size_t, size_t)>& after_chunk);

// The checksum of format version 2: the data in kChecksumSegment-byte segments, each hashed on its own
// (4 CRC-32C lanes, crc32c.h, seeded with `seed` and its index), then the segment hashes hashed in order
// with checksum64. Segments are independent, so `threads` threads verify them side by side.
// after_segment(offset, length) runs on the thread that hashed the segment.
constexpr size_t kChecksumSegment = size_t{8} << 20;
uint64_t segmented_checksum(const void* data, size_t n, uint64_t seed, int threads,
                            const std::function<void(size_t, size_t)>& after_segment = nullptr);

}  // namespace r1::format
