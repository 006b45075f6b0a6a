// Timestamped events of runs, for a Chrome trace (r1 profile --trace): what computed when, what was read from
// disk when, and when the compute waited for a read. Off unless enabled; then a lock per event (a few hundred
// a run: steps and reads, not kernels' inner loops).
//
//   TraceSink t; t.enable(true);
//   t.add(TraceSink::Compute, "MatMul_3", t0, t1);
//   std::vector<TraceSink::Event> ev = t.take();
#pragma once
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace r1 {

class TraceSink {
 public:
  using Clock = std::chrono::steady_clock;
  enum Lane : int { Compute = 0, Read = 1, Stall = 2 };
  struct Event {
    int lane;
    std::string name;
    int64_t start_ns, end_ns;  // steady clock
  };
  void enable(bool on) { on_ = on; }
  bool enabled() const { return on_.load(std::memory_order_relaxed); }
  void add(Lane lane, std::string name, Clock::time_point t0, Clock::time_point t1) {
    if (!enabled()) return;
    auto ns = [](Clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    };
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back({lane, std::move(name), ns(t0), ns(t1)});
  }
  std::vector<Event> take() {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<Event> out;
    out.swap(events_);
    return out;
  }

 private:
  std::atomic<bool> on_{false};
  std::mutex mu_;
  std::vector<Event> events_;
};

}  // namespace r1
