// The io_uring submission path of DirectReader (io/direct_reader.h): one ring, `queue_depth` reads in flight,
// completions reaped as they come. Built where liburing is (R1_WITH_LIBURING); make() returns nullptr where it is
// not, or where the kernel refuses io_uring (seccomp in containers), and the reader uses its pread pool instead.
//
//   auto ring = UringReads::make(8, 1 << 20);
//   std::string err = ring ? ring->run(fd, requests, finish) : "";
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace r1 {

// Read [file_begin, file_end) and deliver [want_begin, want_end) of it to dst (into_dst: straight into dst).
struct ReadRequest {
  uint64_t file_begin, file_end, want_begin, want_end;
  char* dst;
  bool into_dst;
};
// Given a request and the bytes read into `buf` (got of them), delivers them; "" or what went wrong.
using FinishRead = std::function<std::string(const ReadRequest&, const char* buf, size_t got)>;

// Whether this build has the io_uring path (liburing was found).
bool io_uring_built();

class UringReads {
 public:
  static std::unique_ptr<UringReads> make(int queue_depth, size_t staging_bytes);
  ~UringReads();
  UringReads(const UringReads&) = delete;
  UringReads& operator=(const UringReads&) = delete;
  // Every request, queue_depth at a time (one call at a time per ring); "" or the first error, returned once
  // every request in flight has completed (their buffers are the caller's).
  std::string run(int fd, const std::vector<ReadRequest>& requests, const FinishRead& finish);

 private:
  struct Impl;
  explicit UringReads(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1
