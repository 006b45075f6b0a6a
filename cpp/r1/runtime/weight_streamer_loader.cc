// The loader side of the stream pipeline (runtime/weight_streamer.h): the thread that reads weights ahead of
// the compute, the memory it reads them into, and the preload between runs. The compute side (plans, acquire,
// release) is in weight_streamer.cc.
#include <algorithm>
#include <chrono>
#include <map>

#include "r1/core/error.h"
#include "r1/runtime/weight_streamer.h"

namespace r1 {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
constexpr size_t kBatchBytes = size_t{64} << 20;  // host reads gathered into one queue-depth batch
}  // namespace

void WeightStreamer::stop_loader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (loader_.joinable()) loader_.join();
}

void WeightStreamer::start_preload() {
  if (!error_.empty() || planned_stream_all_ || options_.prefetch == 0) return;
  loads_.clear();
  for (size_t i = 0; i < items_.size(); ++i)
    if (!items_[i].resident && !items_[i].loaded.defined()) loads_.push_back({static_cast<int>(i), items_[i].uses[0]});
  if (loads_.empty()) return;
  sort_loads();
  next_load_ = 0;
  compute_step_ = 0;
  waiting_step_ = -1;
  stop_ = false;
  preloading_ = true;
  loader_ = std::thread([this] { loader_main(); });
}

std::shared_ptr<Buffer> WeightStreamer::take_cached(size_t bytes) {
  auto f = free_.find(bytes);
  if (f == free_.end()) return nullptr;
  std::shared_ptr<Buffer> b = std::move(f->second);
  free_.erase(f);
  ++stats_.reused_buffers;
  return b;
}

std::shared_ptr<Buffer> WeightStreamer::new_buffer(size_t bytes) {
  std::shared_ptr<Buffer> inner =
      on_host_ ? allocate_pages(bytes, /*writable=*/false) : target_.allocator().allocate(bytes);
  return counted_buffer(std::move(inner), pool_, bytes, nullptr, /*writable=*/false);
}

std::shared_ptr<Buffer> WeightStreamer::obtain(size_t bytes) {
  // Called by the loader without mu_; the load it is for is loads_[next_load_].
  std::unique_lock<std::mutex> lk(mu_);
  const int step = loads_[next_load_].step;
  for (;;) {
    if (stop_ || !error_.empty()) return nullptr;
    if (std::shared_ptr<Buffer> b = take_cached(bytes)) return b;
    // Room is left for the activations still to come, except for a weight the compute is waiting for: that one
    // may use it (the activations then go past the budget, by at most what they were going to take anyway).
    const bool needed_now = waiting_step_ >= step;
    if (pool_->try_take(bytes, needed_now ? 0 : headroom())) {
      lk.unlock();
      return new_buffer(bytes);
    }
    if (!free_.empty()) {  // cached pages of another size: give them back to make room
      free_.erase(std::prev(free_.end()));
      continue;
    }
    if (preloading_) return nullptr;  // between runs: what fits, never waiting for memory
    // The compute waits for this load (or a later one) and holds everything else it needs: only another
    // engine's run on a shared pool can still give memory back.
    const bool stuck = needed_now;
    if (stuck != stuck_) {
      stuck_ = stuck;
      pool_->set_stuck(stuck);
    }
    if (stuck && drop_used_resident() > 0) continue;  // resident weights this run is done with come back
    if (stuck && pool_->is_shared()) {                // idle engines on the pool may give room back
      lk.unlock();
      const size_t got = pool_->reclaim(bytes, this);
      lk.lock();
      if (got > 0) continue;
    }
    if (stuck && pool_->all_stuck()) {
      fail("memory budget " + std::to_string(pool_->capacity()) + " bytes on " + pool_->tier() +
               " is too small for this input: step " + std::to_string(step) + " needs " + std::to_string(bytes) +
               " more bytes of weights while " + std::to_string(pool_->used()) +
               " bytes are held (activations of this input: " + std::to_string(activations_->live()) +
               "); give the engine at least " + std::to_string(pool_->used() + bytes) + " bytes, or run smaller inputs",
           true);
      return nullptr;
    }
    // This engine's releases (finished()) wake us at once; another engine's, on a shared pool, within 5 ms.
    cv_.wait_for(lk, std::chrono::milliseconds(5));
  }
}

void WeightStreamer::read_items(const std::vector<int>& items, const std::vector<std::shared_ptr<Buffer>>& bufs) {
  if (on_host_) {
    std::map<int, std::vector<ReadRange>> by_reader;
    for (size_t k = 0; k < items.size(); ++k) {
      const Item& it = items_[items[k]];
      // Page buffers have room for the whole last page: the read needs no staging copy.
      by_reader[it.reader].push_back({it.offset, it.bytes, bufs[k]->data(), (bufs[k]->size() + 4095) / 4096 * 4096});
    }
    for (auto& [r, ranges] : by_reader) readers_[r]->read_many(ranges);
    return;
  }
  // Disk -> pinned staging -> device, alternating two staging buffers: the disk read of one chunk overlaps
  // the copy of the previous one on the copy stream.
  int k = 0;
  std::vector<char> pending(staged_.size(), 0);
  for (size_t j = 0; j < items.size(); ++j) {
    const Item& it = items_[items[j]];
    for (size_t done = 0; done < it.bytes; done += options_.staging_bytes, k ^= 1) {
      const size_t n = std::min(options_.staging_bytes, it.bytes - done);
      if (pending[k]) staged_[k]->synchronize();
      readers_[it.reader]->read_many({{it.offset + done, n, staging_[k]->data(), options_.staging_bytes}});
      target_.copy(*staging_[k], 0, *bufs[j], done, n, copy_stream_.get());
      copy_stream_->record(*staged_[k]);
      pending[k] = 1;
    }
  }
  copy_stream_->synchronize();
}

void WeightStreamer::loader_main() {
  for (;;) {
    std::vector<int> batch;
    std::vector<std::shared_ptr<Buffer>> bufs;
    size_t batch_bytes = 0;
    {
      std::unique_lock<std::mutex> lk(mu_);
      // Wait until the next load may start: within the prefetch depth, and its previous segment released.
      cv_.wait(lk, [&] {
        if (stop_ || !error_.empty() || next_load_ == loads_.size()) return true;
        const Load& l = loads_[next_load_];
        return (options_.prefetch < 0 || l.step <= compute_step_ + options_.prefetch) &&
               !items_[l.item].loaded.defined();
      });
      if (stop_ || !error_.empty() || next_load_ == loads_.size()) return;
    }
    // The first load of the batch waits for memory; later ones join only while memory, depth and size allow.
    for (size_t k = next_load_; k < loads_.size(); ++k) {
      const Load& l = loads_[k];
      const Item& it = items_[l.item];
      if (!batch.empty()) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!on_host_ || batch_bytes + it.bytes > kBatchBytes || it.loaded.defined() ||
            std::find(batch.begin(), batch.end(), l.item) != batch.end() ||
            (options_.prefetch >= 0 && l.step > compute_step_ + options_.prefetch))
          break;
      }
      std::shared_ptr<Buffer> b;
      if (batch.empty()) {
        b = obtain(it.bytes);
      } else {
        std::lock_guard<std::mutex> lk(mu_);
        b = take_cached(it.bytes);
        if (!b && pool_->try_take(it.bytes, headroom())) b = new_buffer(it.bytes);
      }
      if (!b) break;
      batch.push_back(l.item);
      bufs.push_back(std::move(b));
      batch_bytes += it.bytes;
    }
    if (batch.empty()) return;  // stopped, or failed (the compute sees the error)
    const auto t0 = Clock::now();
    std::string error;
    try {
      read_items(batch, bufs);
    } catch (const std::exception& e) {
      // Name the model file, not the descriptor path the reader opened it by.
      error = e.what();
      for (size_t r = 0; r < readers_.size(); ++r)
        for (size_t at; (at = error.find(readers_[r]->path())) != std::string::npos;)
          error.replace(at, readers_[r]->path().size(), reader_names_[r]);
      error = "streaming weights: " + error;
    }
    const double dt = seconds_since(t0);
    if (trace_ && trace_->enabled()) {
      std::string what = "read";
      for (int i : batch) what += " " + items_[i].value->name;
      trace_->add(TraceSink::Read, what + " (" + std::to_string(batch_bytes >> 10) + " KiB)", t0, Clock::now());
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (!error.empty()) {
      fail(error, false);
      return;
    }
    (preloading_ ? preload_s_ : run_read_s_) += dt;
    (preloading_ ? preload_bytes_ : run_bytes_) += batch_bytes;
    (preloading_ ? preload_loads_ : run_loads_) += batch.size();
    for (size_t k = 0; k < batch.size(); ++k) {
      Item& it = items_[batch[k]];
      it.loaded = Tensor(it.value->constant.dtype(), it.value->constant.shape(), std::move(bufs[k]));
      ready_[batch[k]] = 1;
    }
    next_load_ += batch.size();
    stats_.loads += batch.size();
    cv_.notify_all();
  }
}

}  // namespace r1
