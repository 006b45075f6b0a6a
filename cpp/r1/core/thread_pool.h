// A fixed pool of workers that park on a condition variable when idle (on 2 shared cores spinning
// workers steal time from the thread doing real work). A worker that just finished a job spins for
// a few tens of microseconds before parking, and so does a caller waiting for the last chunks: in a
// model run the next parallel region follows within microseconds, and waking a parked thread takes
// 40-50 us in a VM. The calling thread takes part in every job.
//
//   ThreadPool pool(2);
//   pool.parallel_for(0, n, /*grain=*/1024, [&](int64_t b, int64_t e) { for (i = b; i < e; ++i) ...; });
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace r1 {

class ThreadPool {
 public:
  // num_threads counts the caller: 1 means no workers at all. 0 picks the hardware thread count.
  // Throws DeviceError when the count is out of range or a worker cannot be started.
  static constexpr int kMaxThreads = 1024;
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [begin, end) into chunks of at least `grain` items and runs fn(chunk_begin, chunk_end)
  // on the workers and the caller; returns when all chunks are done. Exceptions propagate.
  // Nested calls from inside fn run serially on the calling thread. Safe to call from several
  // threads at once (concurrent Executor::run calls share one pool): their jobs take the workers
  // one after another (submit_mu_), a waiting caller sleeps, and chunking does not depend on who
  // runs a chunk, so results are the same as when the calls come one at a time.
  void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  static int hardware_threads();

 private:
  struct Job;
  void worker_loop();
  void stop_workers();
  void run_chunks(Job& job);

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> published_{0};  // generation_, readable without mu_ (spinning workers)
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::mutex submit_mu_;  // one job at a time
};

}  // namespace r1
