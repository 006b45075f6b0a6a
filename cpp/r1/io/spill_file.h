// An unlinked scratch file for activations that leave memory between two reads (runtime/activation_spill.h).
//
//   auto f = SpillFile::create("/nvme/tmp");      // opened and unlinked at once: nothing is left behind
//   f->write(0, src, n);  ...  f->read(0, dst, n);  // any src/dst alignment; offsets multiples of kAlign
//
// Why a file of our own, read and written with O_DIRECT: the spilled bytes are what the memory budget could not
// hold, so they must not come back as page cache. O_DIRECT wants 4 KiB-aligned memory and lengths: a page-aligned
// copy of whole pages goes straight between the memory and the file; any other goes through a page-aligned bounce
// buffer (made on first need: bounce_bytes()), kChunk bytes at a time. Where the filesystem refuses
// O_DIRECT (tmpfs: the "disk" is memory anyway) the file is buffered. Errors (a full disk) are DeviceErrors
// naming the directory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace r1 {

class SpillFile {
 public:
  static constexpr size_t kAlign = 4096;
  static constexpr size_t kChunk = size_t{1} << 20;  // bounce buffer, and the size of each request
  static std::unique_ptr<SpillFile> create(const std::string& dir);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  void write(uint64_t offset, const void* src, size_t bytes);
  void read(uint64_t offset, void* dst, size_t bytes);
  bool direct() const { return direct_; }
  size_t bounce_bytes() const { return bounce_ ? kChunk : 0; }
  const std::string& dir() const { return dir_; }

 private:
  SpillFile(std::string dir, int fd, bool direct);
  [[noreturn]] void fail(const char* what, int err) const;
  char* bounce();                                                   // made on first use
  void transfer(bool out, uint64_t offset, char* mem, size_t len);  // one whole-page pwrite / pread
  std::string dir_;
  int fd_;
  bool direct_;
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<char, Free> bounce_;  // kChunk bytes, page-aligned
};

}  // namespace r1
