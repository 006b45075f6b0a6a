// The bytes of a model file, either mapped (shared with the page cache, loaded in milliseconds) or
// read into private memory (immune to the file changing afterwards), freed with the last owner.
//
//   auto f = MappedFile::open(path);           // mmap, guarded: changed() reports an in-place change
//   auto f = MappedFile::read(path);           // a private copy: the file may change freely afterwards
//   f->set_content_check([](const char* p, size_t n) { return checksum_ok(p, n); });
//
// A mapped file is a BackingFile (core/backing_file.h): changed() says whether the bytes under the
// mapping are still the loaded ones. It keeps the file open and compares size and mtime (one fstat);
// when only the mtime moved (`touch`, or a copy of identical bytes) the content check decides, once per
// change. A read past a truncated end is caught by the SIGBUS guard (mapping_guard.h).
#pragma once
#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "r1/core/backing_file.h"

namespace r1 {

class MappedFile final : public BackingFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);  // throws ModelError
  static std::shared_ptr<MappedFile> read(const std::string& path);  // throws ModelError
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return static_cast<const char*>(addr_); }
  size_t size() const { return size_; }
  bool mapped() const { return fd_ >= 0; }

  using ContentCheck = std::function<bool(const char*, size_t)>;
  void set_content_check(ContentCheck check) { check_ = std::move(check); }
  std::string changed() const override;
  bool locate(const void* p, size_t n, uint64_t* offset) const override;
  std::string reopen_path() const override;
  std::string path() const override { return path_; }

 private:
  MappedFile(std::string path, void* addr, size_t size, int fd);
  std::string path_;
  void* addr_;
  size_t size_;
  int fd_;  // -1 for a private copy
  int guard_ = -1;
  ContentCheck check_;
  mutable std::mutex mu_;
  mutable int64_t mtime_ns_ = 0;
  mutable std::string changed_;  // sticky once set
};

}  // namespace r1
