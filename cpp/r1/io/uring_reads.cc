#include "r1/io/uring_reads.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#ifdef R1_WITH_LIBURING
#include <liburing.h>
#endif

namespace r1 {

#ifdef R1_WITH_LIBURING
namespace {
struct FreeAligned {
  void operator()(void* p) const { std::free(p); }
};
}  // namespace

struct UringReads::Impl {
  io_uring ring{};
  int depth;
  size_t staging_bytes;
  std::vector<std::unique_ptr<void, FreeAligned>> staging;  // per slot, made on the first request that needs it
  ~Impl() { io_uring_queue_exit(&ring); }
};

std::unique_ptr<UringReads> UringReads::make(int queue_depth, size_t staging_bytes) {
  auto impl = std::make_unique<Impl>();
  if (io_uring_queue_init(static_cast<unsigned>(queue_depth), &impl->ring, 0) != 0) return nullptr;
  impl->depth = queue_depth;
  impl->staging_bytes = staging_bytes;
  impl->staging.resize(static_cast<size_t>(queue_depth));
  return std::unique_ptr<UringReads>(new UringReads(std::move(impl)));
}

std::string UringReads::run(int fd, const std::vector<ReadRequest>& requests, const FinishRead& finish) {
  Impl& m = *impl_;
  struct Slot {
    const ReadRequest* r = nullptr;
    char* buf = nullptr;
    size_t got = 0;
  };
  std::vector<Slot> slots(static_cast<size_t>(m.depth));
  std::vector<int> free_slots;
  for (int k = m.depth - 1; k >= 0; --k) free_slots.push_back(k);
  std::string error;
  size_t next = 0;
  int inflight = 0;
  auto queue = [&](int k) {
    Slot& s = slots[static_cast<size_t>(k)];
    io_uring_sqe* sqe = io_uring_get_sqe(&m.ring);  // never null: at most `depth` in flight
    const size_t len = static_cast<size_t>(s.r->file_end - s.r->file_begin);
    io_uring_prep_read(sqe, fd, s.buf + s.got, static_cast<unsigned>(len - s.got), s.r->file_begin + s.got);
    io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<uintptr_t>(k)));
  };
  while (inflight > 0 || (next < requests.size() && error.empty())) {
    while (!free_slots.empty() && next < requests.size() && error.empty()) {
      const int k = free_slots.back();
      free_slots.pop_back();
      Slot& s = slots[static_cast<size_t>(k)];
      s.r = &requests[next++];
      s.got = 0;
      if (s.r->into_dst) {
        s.buf = s.r->dst;
      } else {
        auto& st = m.staging[static_cast<size_t>(k)];
        if (!st) st.reset(std::aligned_alloc(4096, m.staging_bytes));
        if (!st) {
          error = "out of memory for a staging buffer";
          free_slots.push_back(k);
          break;
        }
        s.buf = static_cast<char*>(st.get());
      }
      queue(k);
      ++inflight;
    }
    if (inflight == 0) break;
    io_uring_submit(&m.ring);
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(&m.ring, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) {  // the ring itself failed: nothing more will complete
      return std::string("io_uring wait failed: ") + std::strerror(-rc);
    }
    const int k = static_cast<int>(reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe)));
    const int res = cqe->res;
    io_uring_cqe_seen(&m.ring, cqe);
    Slot& s = slots[static_cast<size_t>(k)];
    const size_t len = static_cast<size_t>(s.r->file_end - s.r->file_begin);
    if (res == -EINTR || res == -EAGAIN) {
      queue(k);
      continue;
    }
    if (res > 0 && s.got + static_cast<size_t>(res) < len) {  // a short read: ask for the rest
      s.got += static_cast<size_t>(res);
      queue(k);
      continue;
    }
    std::string e;
    if (res < 0) {
      e = std::string("read error: ") + std::strerror(-res);
    } else {
      s.got += static_cast<size_t>(res);  // res == 0: end of file (checked by finish)
      e = finish(*s.r, s.buf, s.got);
    }
    if (!e.empty() && error.empty()) error = e;
    free_slots.push_back(k);
    --inflight;
  }
  return error;
}
#else
struct UringReads::Impl {};
std::unique_ptr<UringReads> UringReads::make(int, size_t) { return nullptr; }
std::string UringReads::run(int, const std::vector<ReadRequest>&, const FinishRead&) { return "io_uring not built"; }
#endif

bool io_uring_built() {
#ifdef R1_WITH_LIBURING
  return true;
#else
  return false;
#endif
}

UringReads::UringReads(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UringReads::~UringReads() = default;

}  // namespace r1
