#include "r1/io/spill_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "r1/core/error.h"

namespace r1 {

namespace {
// O_TMPFILE makes a file with no name at all; filesystems without it get a named one, unlinked at once.
int open_unlinked(const std::string& dir, int flags) {
#ifdef O_TMPFILE
  const int tmp = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC | flags, 0600);
  if (tmp >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT)) return tmp;
#endif
  std::string tmpl = dir + "/r1-spill-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkostemp(name.data(), O_CLOEXEC | flags);
  if (fd >= 0) ::unlink(name.data());
  return fd;
}
}  // namespace

void SpillFile::Free::operator()(void* p) const { std::free(p); }

std::unique_ptr<SpillFile> SpillFile::create(const std::string& dir) {
  bool direct = true;
  int fd = open_unlinked(dir, O_DIRECT);
  if (fd < 0 && errno == EINVAL) {  // no O_DIRECT on this filesystem (tmpfs)
    direct = false;
    fd = open_unlinked(dir, 0);
  }
  R1_CHECK(fd >= 0, DeviceError) << "cannot make an activation spill file in offload_dir '" << dir
                                 << "': " << std::strerror(errno);
  return std::unique_ptr<SpillFile>(new SpillFile(dir, fd, direct));
}

SpillFile::SpillFile(std::string dir, int fd, bool direct) : dir_(std::move(dir)), fd_(fd), direct_(direct) {}

SpillFile::~SpillFile() { ::close(fd_); }

void SpillFile::fail(const char* what, int err) const {
  throw DeviceError(std::string(what) + " activations in offload_dir '" + dir_ + "' failed: " + std::strerror(err));
}

namespace {
bool whole_pages(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % SpillFile::kAlign == 0 && bytes % SpillFile::kAlign == 0;
}
}  // namespace

char* SpillFile::bounce() {
  if (!bounce_) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, kChunk) != 0) throw DeviceError("out of memory for the activation spill buffer");
    bounce_.reset(static_cast<char*>(p));
  }
  return bounce_.get();
}

void SpillFile::transfer(bool out, uint64_t offset, char* mem, size_t len) {
  for (size_t done = 0; done < len;) {
    const off_t at = static_cast<off_t>(offset + done);
    const ssize_t n = out ? ::pwrite(fd_, mem + done, len - done, at) : ::pread(fd_, mem + done, len - done, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(out ? "writing" : "reading back", n < 0 ? errno : (out ? ENOSPC : EIO));
    done += static_cast<size_t>(n);
  }
}

void SpillFile::write(uint64_t offset, const void* src, size_t bytes) {
  R1_CHECK(offset % kAlign == 0, InternalError) << "spill offset " << offset << " is not page-aligned";
  if (whole_pages(src, bytes)) {
    transfer(true, offset, static_cast<char*>(const_cast<void*>(src)), bytes);
    return;
  }
  const char* from = static_cast<const char*>(src);
  char* buf = bounce();
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(kChunk, bytes - done);
    std::memcpy(buf, from + done, n);
    // O_DIRECT writes whole pages: the tail of the last one is padding (the file's slot is page-rounded).
    const size_t len = (n + kAlign - 1) / kAlign * kAlign;
    if (len > n) std::memset(buf + n, 0, len - n);
    transfer(true, offset + done, buf, len);
    done += n;
  }
}

void SpillFile::read(uint64_t offset, void* dst, size_t bytes) {
  R1_CHECK(offset % kAlign == 0, InternalError) << "spill offset " << offset << " is not page-aligned";
  if (whole_pages(dst, bytes)) {
    transfer(false, offset, static_cast<char*>(dst), bytes);
    return;
  }
  char* to = static_cast<char*>(dst);
  char* buf = bounce();
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(kChunk, bytes - done);
    transfer(false, offset + done, buf, (n + kAlign - 1) / kAlign * kAlign);
    std::memcpy(to + done, buf, n);
    done += n;
  }
}

}  // namespace r1
