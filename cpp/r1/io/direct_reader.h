// Reads byte ranges of a file around the page cache (O_DIRECT), several requests in flight.
//
//   auto r = DirectReader::open("model.r1", {/*queue_depth=*/8, /*request_bytes=*/1 << 20});
//   r->read(offset, bytes, dst);                        // any offset, size and dst alignment; blocks
//   r->read_many({{off0, n0, dst0}, {off1, n1, dst1}});   // all of them, queue_depth requests at a time
//
// Why: the NVMe tier (issue 12) streams weights of models larger than memory. Through the page cache such a
// model evicts itself (llama.cpp measured 20 s/token for a 20 GB model on 16 GB of RAM through mmap), and every
// byte is copied twice. O_DIRECT reads go from the device straight into our buffers: requests are 4 KiB-aligned
// in offset, length and memory, so each worker reads into its own aligned staging buffer (reused, never
// reallocated, made on the first request that needs it) and copies out what was asked for, or, when the
// destination and the range are aligned already, reads into the destination itself. Where the filesystem refuses
// O_DIRECT (tmpfs, some overlays) the reads are buffered and the pages dropped after (POSIX_FADV_DONTNEED), so the
// cache is still not polluted. A read past the end of the file (truncated under us) or an I/O error is a ModelError
// naming the file. Requests go through io_uring (io/uring_reads.h) where liburing was built in and the kernel allows
// it; a pool of pread workers, one per request in flight, does the same reads elsewhere.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "r1/io/uring_reads.h"

namespace r1 {

struct DirectReadOptions {
  int queue_depth = 8;              // requests in flight (one worker thread each)
  size_t request_bytes = 1u << 20;  // per request, a multiple of 4 KiB
  bool direct = true;               // false: buffered reads with the pages dropped after (what a filesystem
                                    // without O_DIRECT gets anyway)
  bool io_uring = true;             // submit through io_uring where built and allowed (else the pread pool)
};

struct ReadRange {
  uint64_t offset = 0;
  size_t bytes = 0;
  void* dst = nullptr;
  // Bytes writable at dst (0: just `bytes`). A page-aligned range into a page-aligned dst with room for the
  // whole last page is read straight into dst, its tail page included: no staging copy.
  size_t capacity = 0;
};

class DirectReader {
 public:
  static constexpr size_t kAlign = 4096;
  static std::unique_ptr<DirectReader> open(const std::string& path, DirectReadOptions options = {});
  ~DirectReader();
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;

  void read(uint64_t offset, size_t bytes, void* dst) { read_many({{offset, bytes, dst}}); }
  void read_many(const std::vector<ReadRange>& ranges);
  uint64_t file_size() const;
  bool direct() const { return direct_; }  // false: buffered reads with the pages dropped after
  bool uses_io_uring() const { return ring_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  struct Pool;
  DirectReader(std::string path, int fd, bool direct, DirectReadOptions options);
  std::string path_;
  int fd_;
  bool direct_;
  DirectReadOptions options_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<UringReads> ring_;  // null: the pool's threads do the reads
  std::mutex ring_mu_;
  std::string finish(const ReadRequest& r, const char* buf, size_t got) const;
};

}  // namespace r1
