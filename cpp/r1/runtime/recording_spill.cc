#include "r1/runtime/recording_spill.h"

#include <algorithm>
#include <chrono>

#include "r1/io/spill_file.h"

namespace r1 {

namespace {
using Clock = std::chrono::steady_clock;
// Smaller values are not worth a disk round trip, nor the spill file's bounce buffer (SpillFile::kChunk, counted
// in the budget from the first spill on): letting go of one must free at least that.
constexpr size_t kMinBytes = SpillFile::kChunk;
}  // namespace

RecordingSpill::RecordingSpill(ActivationSpiller& spiller, const Graph& g, const std::vector<std::vector<int>>& readers,
                               BudgetAllocator& allocator, size_t room, std::vector<Tensor>& env)
    : sp_(spiller), g_(g), readers_(readers), alloc_(allocator), room_(room), env_(env) {
  sp_.start_run();
}

RecordingSpill::~RecordingSpill() {
  sp_.drain();
  sp_.end_run(static_cast<size_t>(spills_), bytes_, wait_s_);
}

int RecordingSpill::next_read(int value, int step) const {
  const auto& r = readers_[value];
  auto it = std::upper_bound(r.begin(), r.end(), step);
  return it == r.end() ? -1 : *it;
}

void RecordingSpill::before(int step) {
  if (out_.empty()) return;
  for (const Value* v : g_.nodes()[step]->inputs) {
    if (!v) continue;
    auto it = out_.find(v->id);
    if (it == out_.end()) continue;
    const Out& o = it->second;
    std::shared_ptr<Buffer> b = alloc_.allocate(o.bytes);
    const auto t0 = Clock::now();
    sp_.wait(sp_.submit(false, static_cast<char*>(b->data()), o.bytes, o.file_offset, "read back " + v->name));
    wait_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
    bytes_ += o.bytes;
    env_[v->id] = Tensor(o.dtype, o.shape, std::move(b));
    out_.erase(it);
  }
}

void RecordingSpill::after(int step) {
  // A step holds its inputs and its outputs at once: leave room for the largest outputs a step made so far.
  size_t made = 0;
  for (const Value* v : g_.nodes()[step]->outputs)
    if (v && env_[v->id].defined()) made += env_[v->id].nbytes();
  margin_ = std::max(margin_, made);
  // Over what the budget leaves activations, or over the budget itself (the loader holds weights read ahead).
  auto over = [&] {
    const MemoryPool& pool = alloc_.pool();
    return alloc_.live() + margin_ > room_ || pool.used() + margin_ > pool.capacity();
  };
  while (over()) {
    // The value read again latest, of those whose memory letting go of would free.
    int pick = -1, pick_read = step + 1;
    for (const auto& v : g_.values()) {
      const Tensor& t = env_[v->id];
      if (!t.defined() || v->is_graph_output || v->is_constant() || t.nbytes() < kMinBytes) continue;
      const std::shared_ptr<Buffer>& b = t.buffer();
      if (!b || b.use_count() != 1 || t.byte_offset() != 0 || !host_accessible(b->kind())) continue;
      const int r = next_read(v->id, step);
      if (r > pick_read) pick = v->id, pick_read = r;
    }
    if (pick < 0) return;  // nothing left to let go of: the run goes past the budget
    Tensor& t = env_[pick];
    const uint64_t at = file_end_;
    file_end_ += (t.nbytes() + SpillFile::kAlign - 1) / SpillFile::kAlign * SpillFile::kAlign;
    const auto t0 = Clock::now();
    sp_.wait(sp_.submit(true, static_cast<char*>(t.raw()), t.nbytes(), at, "spill " + g_.values()[pick]->name));
    wait_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
    bytes_ += t.nbytes();
    ++spills_;
    out_[pick] = {t.dtype(), t.shape(), t.nbytes(), at};
    t = Tensor();  // its memory goes back to the pool
  }
}

}  // namespace r1
