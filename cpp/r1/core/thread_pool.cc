#include "r1/core/thread_pool.h"

#include <chrono>
#include <exception>
#include <memory>

#include "r1/core/error.h"

namespace r1 {

namespace {
thread_local bool t_in_pool_job = false;

// How long an idle worker (or a caller waiting on workers) spins before it parks. Long enough to
// bridge the gap between two kernels of a run, short enough that an idle engine costs nothing.
constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or kSpin elapsed; true when done() became true.
template <class F>
bool spin_until(F&& done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return done();
  }
}
}  // namespace

struct ThreadPool::Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t begin, end, chunk;
  int64_t num_chunks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};
  int active_workers = 0;  // guarded by mu_
  std::exception_ptr error;
  std::mutex error_mu;
};

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = hardware_threads();
  R1_CHECK(num_threads <= kMaxThreads, DeviceError)
      << "num_threads " << num_threads << " is more than the " << kMaxThreads << " supported";
  try {
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::exception& e) {
    // Workers already started wait on our condition variables: stop and join them before unwinding.
    stop_workers();
    R1_THROW(DeviceError) << "could not start " << num_threads << " threads: " << e.what();
  }
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

ThreadPool::~ThreadPool() { stop_workers(); }

int ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

void ThreadPool::run_chunks(Job& job) {
  bool was_in = t_in_pool_job;
  t_in_pool_job = true;
  for (;;) {
    int64_t c = job.next.fetch_add(1);
    if (c >= job.num_chunks) break;
    int64_t b = job.begin + c * job.chunk;
    int64_t e = std::min(job.end, b + job.chunk);
    try {
      (*job.fn)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lk(job.error_mu);
      if (!job.error) job.error = std::current_exception();
    }
    job.finished.fetch_add(1);
  }
  t_in_pool_job = was_in;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (!stop_ && !(job_ && generation_ != seen)) {
      // Nothing for us now: spin until the next job is published (any newer generation), then park.
      const uint64_t current = generation_;
      lk.unlock();
      spin_until([&] {
        return stopping_.load(std::memory_order_relaxed) || published_.load(std::memory_order_acquire) != current;
      });
      lk.lock();
    }
    wake_.wait(lk, [&] { return stop_ || (job_ && generation_ != seen); });
    if (stop_) return;
    seen = generation_;
    Job* job = job_;
    ++job->active_workers;
    lk.unlock();
    run_chunks(*job);
    lk.lock();
    if (--job->active_workers == 0) done_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  int64_t n = end - begin;
  if (grain < 1) grain = 1;
  int threads = num_threads();
  if (threads == 1 || n <= grain || t_in_pool_job) {
    fn(begin, end);
    return;
  }
  // A few chunks per thread balance uneven work without much overhead.
  int64_t max_chunks = static_cast<int64_t>(threads) * 4;
  int64_t chunk = std::max(grain, (n + max_chunks - 1) / max_chunks);
  std::lock_guard<std::mutex> submit(submit_mu_);
  Job job;
  job.fn = &fn;
  job.begin = begin;
  job.end = end;
  job.chunk = chunk;
  job.num_chunks = (n + chunk - 1) / chunk;
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = &job;
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks(job);
  // The workers usually finish their last chunks within microseconds: wait for that spinning,
  // then (or if it takes longer) sleep until the last worker lets go of `job`.
  spin_until([&] { return job.finished.load(std::memory_order_acquire) == job.num_chunks; });
  {
    std::unique_lock<std::mutex> lk(mu_);
    // Wait until every chunk ran and no worker still holds a pointer to `job`.
    done_.wait(lk, [&] { return job.finished.load() == job.num_chunks && job.active_workers == 0; });
    job_ = nullptr;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace r1
