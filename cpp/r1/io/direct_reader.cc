#include "r1/io/direct_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "r1/core/error.h"

namespace r1 {
namespace {

uint64_t down(uint64_t v) { return v / DirectReader::kAlign * DirectReader::kAlign; }
uint64_t up(uint64_t v) { return (v + DirectReader::kAlign - 1) / DirectReader::kAlign * DirectReader::kAlign; }

struct FreeAligned {
  void operator()(void* p) const { std::free(p); }
};

// All the requests of one read_many call: the caller waits until `left` is 0.
struct Batch {
  std::mutex mu;
  std::condition_variable done;
  size_t left = 0;
  std::string error;  // the first failure
};

// One request of one read_many call, for the pread pool.
struct Request {
  ReadRequest r;
  Batch* batch;
};

}  // namespace

struct DirectReader::Pool {
  DirectReader* owner;
  std::mutex mu;
  std::condition_variable wake;
  std::deque<Request> queue;
  bool stopping = false;
  std::vector<std::thread> workers;

  void run(size_t staging_bytes) {
    std::unique_ptr<void, FreeAligned> staging;  // made on the first request that is not aligned
    for (;;) {
      Request r;
      {
        std::unique_lock<std::mutex> lk(mu);
        wake.wait(lk, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        r = queue.front();
        queue.pop_front();
      }
      if (!r.r.into_dst && !staging) staging.reset(std::aligned_alloc(kAlign, staging_bytes));
      std::string error = r.r.into_dst || staging ? serve(r.r, static_cast<char*>(staging.get()))
                                                  : "out of memory for a staging buffer";
      std::lock_guard<std::mutex> lk(r.batch->mu);
      if (!error.empty() && r.batch->error.empty()) r.batch->error = error;
      if (--r.batch->left == 0) r.batch->done.notify_all();
    }
  }

  // "" or what went wrong.
  std::string serve(const ReadRequest& r, char* staging) const {
    char* buf = r.into_dst ? r.dst : staging;
    const size_t len = static_cast<size_t>(r.file_end - r.file_begin);
    size_t got = 0;
    while (got < len) {
      ssize_t n = ::pread(owner->fd_, buf + got, len - got, static_cast<off_t>(r.file_begin + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::string("read error: ") + std::strerror(errno);
      if (n == 0) break;  // end of file: the tail of the last aligned request is past it
      got += static_cast<size_t>(n);
    }
    return owner->finish(r, buf, got);
  }
};

std::string DirectReader::finish(const ReadRequest& r, const char* buf, size_t got) const {
  if (r.file_begin + got < r.want_end)
    return "the file ended at byte " + std::to_string(r.file_begin + got) + ", before byte " +
           std::to_string(r.want_end) + " (was it truncated while it was read?)";
  if (!r.into_dst) std::memcpy(r.dst, buf + (r.want_begin - r.file_begin), r.want_end - r.want_begin);
  if (!direct_)  // buffered fallback: do not leave the pages behind in the cache
    ::posix_fadvise(fd_, static_cast<off_t>(r.file_begin), static_cast<off_t>(r.file_end - r.file_begin),
                    POSIX_FADV_DONTNEED);
  return "";
}

std::unique_ptr<DirectReader> DirectReader::open(const std::string& path, DirectReadOptions o) {
  R1_CHECK(o.queue_depth >= 1 && o.queue_depth <= 256, InputError)
      << "queue_depth must be from 1 to 256, got " << o.queue_depth;
  R1_CHECK(o.request_bytes >= kAlign && o.request_bytes % kAlign == 0 && o.request_bytes <= (size_t{64} << 20),
           InputError)
      << "request_bytes must be a multiple of 4096 from 4 KiB to 64 MiB, got " << o.request_bytes;
  bool direct = o.direct;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0 && direct && errno == EINVAL) {  // the filesystem has no O_DIRECT: buffered, pages dropped after
    direct = false;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  R1_CHECK(fd >= 0, ModelError) << "cannot open '" << path << "': " << std::strerror(errno);
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    R1_THROW(ModelError) << "'" << path << "' is not a regular file";
  }
  return std::unique_ptr<DirectReader>(new DirectReader(path, fd, direct, o));
}

DirectReader::DirectReader(std::string path, int fd, bool direct, DirectReadOptions o)
    : path_(std::move(path)), fd_(fd), direct_(direct), options_(o), pool_(std::make_unique<Pool>()) {
  pool_->owner = this;
  // The ring keeps 4x the queue depth in flight: its one submitting thread may be kept off a busy CPU for a
  // while, and the device must not go idle meanwhile (a pool's threads each resubmit on their own).
  if (o.io_uring) ring_ = UringReads::make(4 * o.queue_depth, o.request_bytes);
  if (ring_) return;  // io_uring does the reads: no worker threads
  for (int i = 0; i < o.queue_depth; ++i) pool_->workers.emplace_back([this] { pool_->run(options_.request_bytes); });
}

DirectReader::~DirectReader() {
  {
    std::lock_guard<std::mutex> lk(pool_->mu);
    pool_->stopping = true;
  }
  pool_->wake.notify_all();
  for (auto& t : pool_->workers) t.join();
  ::close(fd_);
}

uint64_t DirectReader::file_size() const {
  struct stat st{};
  R1_CHECK(::fstat(fd_, &st) == 0, ModelError) << "cannot stat '" << path_ << "': " << std::strerror(errno);
  return static_cast<uint64_t>(st.st_size);
}

void DirectReader::read_many(const std::vector<ReadRange>& ranges) {
  const uint64_t size = file_size();
  Batch batch;
  std::vector<Request> requests;
  const uint64_t step = options_.request_bytes;
  std::vector<ReadRequest> ring_requests;
  for (const ReadRange& rg : ranges) {
    if (rg.bytes == 0) continue;
    R1_CHECK(rg.dst != nullptr, InputError) << "read of " << rg.bytes << " bytes into a null buffer";
    R1_CHECK(rg.offset <= size && rg.bytes <= size - rg.offset, ModelError)
        << "'" << path_ << "' is " << size << " bytes; a read of bytes [" << rg.offset << ", " << rg.offset + rg.bytes
        << ") needs more (truncated, or not the file it was?)";
    const uint64_t end = rg.offset + rg.bytes;
    // Direct: whole aligned blocks around the range; buffered: the range itself.
    const uint64_t first = direct_ ? down(rg.offset) : rg.offset;
    const uint64_t last = direct_ ? up(end) : end;
    for (uint64_t b = first; b < last; b += step) {
      const uint64_t e = std::min(last, b + step);
      const uint64_t want_b = std::max(b, rg.offset), want_e = std::min(e, end);
      char* dst = static_cast<char*>(rg.dst) + (want_b - rg.offset);
      // The last page may be read whole into dst when dst has room for it (the bytes past the range are junk
      // the caller does not look at).
      const size_t room = std::max(rg.capacity, rg.bytes) - (want_b - rg.offset);
      const bool aligned =
          want_b == b && (want_e == e || e - b <= room) && reinterpret_cast<uintptr_t>(dst) % kAlign == 0;
      const ReadRequest r{b, e, want_b, want_e, dst, aligned || !direct_};
      if (ring_)
        ring_requests.push_back(r);
      else
        requests.push_back({r, &batch});
    }
  }
  if (ring_) {
    std::lock_guard<std::mutex> lk(ring_mu_);  // one batch at a time on the ring
    std::string error = ring_->run(
        fd_, ring_requests, [this](const ReadRequest& r, const char* buf, size_t got) { return finish(r, buf, got); });
    R1_CHECK(error.empty(), ModelError) << "'" << path_ << "': " << error;
    return;
  }
  if (requests.empty()) return;
  batch.left = requests.size();
  {
    std::lock_guard<std::mutex> lk(pool_->mu);
    for (const Request& r : requests) pool_->queue.push_back(r);
  }
  pool_->wake.notify_all();
  std::unique_lock<std::mutex> lk(batch.mu);
  batch.done.wait(lk, [&] { return batch.left == 0; });
  R1_CHECK(batch.error.empty(), ModelError) << "'" << path_ << "': " << batch.error;
}

}  // namespace r1
