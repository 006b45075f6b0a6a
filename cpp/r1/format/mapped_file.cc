#include "r1/format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "r1/core/error.h"
#include "r1/format/mapping_guard.h"

namespace r1 {
namespace {

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// An open regular file and its size; throws ModelError naming the path.
int open_regular(const std::string& path, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  R1_CHECK(fd >= 0, ModelError) << "cannot open '" << path << "': " << std::strerror(errno);
  if (::fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    ::close(fd);
    R1_THROW(ModelError) << "'" << path << "' is not a regular file";
  }
  return fd;
}

}  // namespace

MappedFile::MappedFile(std::string path, void* addr, size_t size, int fd)
    : path_(std::move(path)), addr_(addr), size_(size), fd_(fd) {}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  struct stat st{};
  int fd = open_regular(path, &st);
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      R1_THROW(ModelError) << "cannot map '" << path << "': " << std::strerror(err);
    }
  }
  // The descriptor stays open: changed() asks it (fstat follows the inode, not the name, so an atomic
  // replacement of the path is not a change of this file).
  std::shared_ptr<MappedFile> f(new MappedFile(path, addr, size, fd));
  f->guard_ = format::guard_mapping(addr, size);
  f->mtime_ns_ = mtime_ns(st);
  return f;
}

std::shared_ptr<MappedFile> MappedFile::read(const std::string& path) {
  struct stat st{};
  int fd = open_regular(path, &st);
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      R1_THROW(ModelError) << "cannot allocate " << size << " bytes to read '" << path << "': " << std::strerror(err);
    }
#ifdef MADV_HUGEPAGE
    ::madvise(addr, size, MADV_HUGEPAGE);  // weights are read whole: fewer TLB misses
#endif
  }
  std::shared_ptr<MappedFile> f(new MappedFile(path, addr, size, -1));  // owns addr from here on
  size_t done = 0;
  while (done < size) {
    const size_t want = std::min<size_t>(size - done, size_t{8} << 20);
    ssize_t n = ::pread(fd, static_cast<char*>(addr) + done, want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      R1_THROW(ModelError) << "cannot read '" << path
                           << "': " << (err ? std::strerror(err) : "the file shrank while it was read");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (addr) ::mprotect(addr, size, PROT_READ);  // weights are read-only, as in a mapping
  return f;
}

MappedFile::~MappedFile() {
  format::unguard_mapping(guard_);
  if (addr_ && size_) ::munmap(addr_, size_);
  if (fd_ >= 0) ::close(fd_);
}

std::string MappedFile::changed() const {
  if (fd_ < 0) return "";  // a private copy cannot change
  std::lock_guard<std::mutex> lock(mu_);
  if (!changed_.empty()) return changed_;
  const char* how = nullptr;
  struct stat st{};
  if (format::mapping_faulted(guard_)) {
    how = "was truncated";
  } else if (::fstat(fd_, &st) != 0) {
    how = "can no longer be read";
  } else if (static_cast<size_t>(st.st_size) != size_) {
    how = "changed size";
  } else if (mtime_ns(st) != mtime_ns_) {
    // Written in place, or only touched: the bytes decide (once per change of mtime).
    if (check_ && check_(data(), size_) && !format::mapping_faulted(guard_)) {
      mtime_ns_ = mtime_ns(st);
      return "";
    }
    how = "was modified";
  }
  if (how == nullptr) return "";
  changed_ = std::string("model file '") + path_ + "' " + how +
             " while it was in use (it was overwritten in place, e.g. by cp); this engine's weights are gone: "
             "load the model again. To update a model that is in use, write the new file elsewhere and rename "
             "it over the old one (mv, os.replace): the running engine keeps the old file's bytes.";
  return changed_;
}

bool MappedFile::locate(const void* p, size_t n, uint64_t* offset) const {
  if (fd_ < 0 || !addr_) return false;  // a private copy's bytes are not the file's any more
  const char* c = static_cast<const char*>(p);
  if (c < data() || c + n > data() + size_ || c + n < c) return false;
  *offset = static_cast<uint64_t>(c - data());
  return true;
}

std::string MappedFile::reopen_path() const { return fd_ < 0 ? "" : "/proc/self/fd/" + std::to_string(fd_); }

}  // namespace r1
