#include "r1/io/spill_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

SpillFile::SpillFile(std::string dir, int fd, bool direct) : dir_(std::move(dir)), fd_(fd), direct_(direct) {
  void* p = nullptr;
  if (posix_memalign(&p, kAlign, kChunk) != 0) {
    ::close(fd_);
    throw DeviceError("out of memory for the activation spill buffer");
  }
  bounce_.reset(static_cast<char*>(p));
}

SpillFile::~SpillFile() { ::close(fd_); }

void SpillFile::fail(const char* what, int err) const {
  throw DeviceError(std::string(what) + " activations in offload_dir '" + dir_ + "' failed: " + std::strerror(err));
}

void SpillFile::write(uint64_t offset, const void* src, size_t bytes) {
  R1_CHECK(offset % kAlign == 0, InternalError) << "spill offset " << offset << " is not page-aligned";
  const char* from = static_cast<const char*>(src);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(kChunk, bytes - done);
    std::memcpy(bounce_.get(), from + done, n);
    // O_DIRECT writes whole pages: the tail of the last one is padding (the file's slot is page-rounded).
    const size_t len = (n + kAlign - 1) / kAlign * kAlign;
    if (len > n) std::memset(bounce_.get() + n, 0, len - n);
    for (size_t put = 0; put < len;) {
      const ssize_t w = ::pwrite(fd_, bounce_.get() + put, len - put, static_cast<off_t>(offset + done + put));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("writing", w < 0 ? errno : ENOSPC);
      put += static_cast<size_t>(w);
    }
    done += n;
  }
}

void SpillFile::read(uint64_t offset, void* dst, size_t bytes) {
  R1_CHECK(offset % kAlign == 0, InternalError) << "spill offset " << offset << " is not page-aligned";
  char* to = static_cast<char*>(dst);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(kChunk, bytes - done);
    const size_t len = (n + kAlign - 1) / kAlign * kAlign;
    for (size_t got = 0; got < len;) {
      const ssize_t r = ::pread(fd_, bounce_.get() + got, len - got, static_cast<off_t>(offset + done + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail("reading back", r < 0 ? errno : EIO);
      got += static_cast<size_t>(r);
    }
    std::memcpy(to + done, bounce_.get(), n);
    done += n;
  }
}

}  // namespace r1
