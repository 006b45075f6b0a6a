#include "r1/runtime/activation_spill.h"

#include <chrono>
#include <utility>

#include "r1/core/error.h"

namespace r1 {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

ActivationSpiller::ActivationSpiller(std::string dir, std::shared_ptr<MemoryPool> pool, TraceSink* trace)
    : dir_(std::move(dir)), pool_(std::move(pool)), trace_(trace) {
  worker_ = std::thread([this] { worker_main(); });
}

ActivationSpiller::~ActivationSpiller() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  worker_.join();
  if (pool_) pool_->give(bounce_counted_);
}

uint64_t ActivationSpiller::submit(bool write, char* mem, size_t bytes, uint64_t file_offset, std::string what) {
  std::lock_guard<std::mutex> lk(mu_);
  const uint64_t t = next_ticket_++;
  queue_.push_back({t, write, mem, bytes, file_offset, std::move(what)});
  cv_.notify_all();
  return t;
}

void ActivationSpiller::wait(uint64_t ticket) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return done_ >= ticket; });
  if (!error_.empty()) throw DeviceError(error_);
}

void ActivationSpiller::drain() noexcept {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return done_ + 1 >= next_ticket_; });
}

void ActivationSpiller::start_run() {
  std::lock_guard<std::mutex> lk(mu_);
  error_.clear();
}

void ActivationSpiller::end_run(size_t spills, uint64_t bytes, double wait_s) {
  std::lock_guard<std::mutex> lk(mu_);
  stats_.spills = spills;
  stats_.runs += 1;
  stats_.last_bytes = bytes;
  stats_.bytes += bytes;
  stats_.last_wait_s = wait_s;
  stats_.wait_s += wait_s;
}

SpillStats ActivationSpiller::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

void ActivationSpiller::worker_main() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    const bool skip = !error_.empty();  // after a failure in this run the rest is moot
    lk.unlock();
    std::string error;
    const auto t0 = Clock::now();
    if (!skip) {
      try {
        if (!file_) file_ = SpillFile::create(dir_);
        if (job.write)
          file_->write(job.file_offset, job.mem, job.bytes);
        else
          file_->read(job.file_offset, job.mem, job.bytes);
        if (pool_ && file_->bounce_bytes() > bounce_counted_) {  // the bounce buffer was just made
          pool_->take(file_->bounce_bytes() - bounce_counted_);
          bounce_counted_ = file_->bounce_bytes();
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (trace_ && trace_->enabled()) trace_->add(TraceSink::Read, job.what, t0, Clock::now());
    }
    lk.lock();
    if (!error.empty() && error_.empty()) error_ = error;
    done_ = job.ticket;
    cv_.notify_all();
  }
}

SpillRun::SpillRun(ActivationSpiller& spiller, const Graph& g, const Plan& plan, const std::shared_ptr<Buffer>& arena,
                   std::vector<Tensor>& env)
    : sp_(spiller), g_(g), plan_(plan), arena_(arena), env_(env) {
  R1_CHECK(arena_ && host_accessible(arena_->kind()), InternalError) << "activations spill from host memory only";
  write_.assign(plan_.spills().size(), 0);
  read_.assign(plan_.spills().size(), 0);
  sp_.start_run();
}

SpillRun::~SpillRun() {
  sp_.drain();
  sp_.end_run(plan_.spills().size(), bytes_, wait_s_);
}

void SpillRun::wait(uint64_t ticket, size_t k) {
  const auto t0 = Clock::now();
  sp_.wait(ticket);
  const auto t1 = Clock::now();
  const double dt = std::chrono::duration<double>(t1 - t0).count();
  wait_s_ += dt;
  TraceSink* tr = sp_.trace();
  if (dt > 1e-5 && tr && tr->enabled())
    tr->add(TraceSink::Stall, "wait for spilled " + g_.values()[plan_.spills()[k].values[0]]->name, t0, t1);
}

void SpillRun::before(int step) {
  const auto& spills = plan_.spills();
  char* base = static_cast<char*>(arena_->data());
  for (size_t k = 0; k < spills.size(); ++k) {
    const PlanSpill& s = spills[k];
    // The slot it was written from is reused from step after + lead + 1 on.
    if (write_[k] && s.after + s.lead + 1 <= step) {
      wait(write_[k], k);
      write_[k] = 0;
    }
    if (s.use - s.lead == step) {
      read_[k] = sp_.submit(false, base + s.offset_back, s.bytes, s.file_offset,
                            "read back " + g_.values()[s.values[0]]->name);
      bytes_ += s.bytes;
    }
    if (s.use == step && read_[k]) {
      wait(read_[k], k);
      read_[k] = 0;
      // The live values in the storage now lie in the read-back slot.
      const size_t from = plan_.offset(s.storage);
      for (int id : s.values) {
        Tensor& t = env_[id];
        if (!t.defined() || t.buffer() != arena_ || t.byte_offset() < from ||
            t.byte_offset() + t.nbytes() > from + s.bytes)
          continue;
        t = Tensor(t.dtype(), t.shape(), t.buffer(), t.byte_offset() - from + s.offset_back);
      }
    }
  }
}

void SpillRun::after(int step) {
  const auto& spills = plan_.spills();
  char* base = static_cast<char*>(arena_->data());
  for (size_t k = 0; k < spills.size(); ++k) {
    const PlanSpill& s = spills[k];
    if (s.after != step) continue;
    write_[k] = sp_.submit(true, base + plan_.offset(s.storage), s.bytes, s.file_offset,
                           "spill " + g_.values()[s.values[0]]->name);
    bytes_ += s.bytes;
  }
}

}  // namespace r1
