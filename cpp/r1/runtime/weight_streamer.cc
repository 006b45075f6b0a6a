#include "r1/runtime/weight_streamer.h"

#include <algorithm>
#include <chrono>

#include "r1/core/error.h"
#include "r1/memory/tier_planner.h"

namespace r1 {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
constexpr int kPlanLead = 2;  // weight steps a streamed weight is planned to arrive ahead
}  // namespace

size_t unhomed_weight_bytes(const Graph& g, size_t min_bytes) {
  size_t n = 0;
  for (const auto& v : g.values()) {
    if (!v->is_constant() || v->constant.nbytes() < min_bytes) continue;
    uint64_t offset = 0;
    bool homed = false;
    for (const auto& b : g.backings()) homed = homed || b->locate(v->constant.raw(), v->constant.nbytes(), &offset);
    n += homed ? 0 : v->constant.nbytes();
  }
  return n;
}

WeightStreamer::WeightStreamer(const Graph& g, const std::vector<const Node*>& steps,
                               const std::vector<char>& metadata_only, Device& target,
                               std::shared_ptr<MemoryPool> target_pool, std::shared_ptr<MemoryPool> host_pool,
                               TieringOptions options, TraceSink* trace)
    : target_(target),
      on_host_(target.kind() == DeviceKind::CPU),
      trace_(trace),
      pool_(std::move(target_pool)),
      host_pool_(std::move(host_pool)),
      options_(options) {
  R1_CHECK(pool_ != nullptr, InternalError) << "a weight streamer needs a memory pool";
  activations_ = std::make_unique<BudgetAllocator>(pool_, on_host_ ? nullptr : &target_.allocator());
  num_steps_ = static_cast<int>(steps.size());
  index_.assign(g.values().size(), -1);
  std::map<std::string, int> reader_of;
  std::vector<char> seen(g.values().size(), 0);
  size_t fixed = 0;
  for (int s = 0; s < num_steps_; ++s) {
    if (metadata_only[s]) continue;
    for (const Value* v : steps[s]->inputs) {
      if (!v || !v->is_constant()) continue;
      if (index_[v->id] >= 0) {
        auto& uses = items_[index_[v->id]].uses;
        if (uses.back() != s) uses.push_back(s);
        continue;
      }
      if (seen[v->id]) continue;
      seen[v->id] = 1;
      const Tensor& c = v->constant;
      uint64_t offset = 0;
      std::string home, name;
      if (c.nbytes() >= options_.min_stream_bytes && !v->is_graph_output)
        for (const auto& b : g.backings())
          if (b->locate(c.raw(), c.nbytes(), &offset)) {
            home = b->reopen_path();
            name = b->path();
            break;
          }
      if (home.empty()) {  // small, or made in memory: stays where the graph has it
        fixed += c.nbytes();
        continue;
      }
      auto [it, fresh] = reader_of.emplace(home, static_cast<int>(readers_.size()));
      if (fresh) {
        readers_.push_back(DirectReader::open(home, options_.read));
        reader_names_.push_back(name.empty() ? home : name);
      }
      // From now on this weight is read from disk, never through the mapping: give back the pages that load
      // time touched (a pass reading a packed header maps a whole large folio of the page cache).
      c.buffer()->drop_resident_pages(c.byte_offset(), c.nbytes());
      index_[v->id] = static_cast<int>(items_.size());
      items_.push_back({v, c.nbytes(), {s}, it->second, offset, false, {}, Tensor()});
    }
  }
  std::vector<size_t> per_step(static_cast<size_t>(num_steps_), 0);
  for (auto& it : items_) {
    it.drop.assign(it.uses.size() - 1, 1);
    for (int s : it.uses) per_step[s] += it.bytes;
  }
  min_weights_ = per_step.empty() ? 0 : *std::max_element(per_step.begin(), per_step.end());
  // Always held: the constants that do not stream, and each reader's staging buffers where a read cannot go
  // straight into the weight's pages (a blob not on a page: .r1 files before version 3).
  bool unaligned = false;
  for (const auto& it : items_) unaligned = unaligned || it.offset % DirectReader::kAlign != 0;
  const size_t reader_staging = readers_.size() * options_.read.queue_depth * options_.read.request_bytes;
  fixed_bytes_ = fixed + (on_host_ && unaligned ? reader_staging : 0);
  if (!on_host_) {
    copy_stream_ = target_.create_stream();
    for (int k = 0; k < 2 && !items_.empty(); ++k) {
      staging_.push_back(target_.host_allocator().allocate(options_.staging_bytes));
      staged_.push_back(target_.create_event());
    }
    host_bytes_ = reader_staging + staging_.size() * options_.staging_bytes;
    if (host_pool_) host_pool_->take(host_bytes_);
  }
  const size_t min_budget = fixed_bytes_ + min_weights_;
  R1_CHECK(pool_->capacity() >= min_budget, InputError)
      << "memory budget " << pool_->capacity() << " bytes on " << pool_->tier()
      << " is too small to run this model: its largest step reads " << min_weights_ << " bytes of weights and "
      << fixed_bytes_ << " bytes are always held (small constants, read buffers), so the smallest budget that can "
      << "work is " << min_budget << " bytes (" << (min_budget + (1 << 20) - 1) / (1 << 20)
      << " MiB), plus what the activations of the input shapes you run need";
  pool_->take(fixed_bytes_);
  if (pool_->is_shared()) pool_->add_reclaimer(this);
  stats_.weights = items_.size();
  stats_.weight_steps =
      static_cast<size_t>(std::count_if(per_step.begin(), per_step.end(), [](size_t b) { return b > 0; }));
  for (const auto& it : items_) stats_.weight_bytes += it.bytes;
  stats_.fixed_bytes = fixed_bytes_;
  stats_.min_budget = min_budget;
}

WeightStreamer::~WeightStreamer() {
  stop_loader();
  if (pool_->is_shared()) pool_->remove_reclaimer(this);
  for (auto& it : items_) it.loaded = Tensor();
  free_.clear();
  pool_->give(fixed_bytes_);
  if (host_pool_) host_pool_->give(host_bytes_);
}

void WeightStreamer::plan(size_t activation_bytes, bool stream_all, bool shrink) {
  // The planner's timeline is the steps that read weights (the others neither hold nor load any): a lead of
  // two of them lets the reads for the next two weight steps run while one computes.
  std::vector<int> weighted(static_cast<size_t>(num_steps_), -1);
  for (const auto& it : items_)
    for (int s : it.uses) weighted[s] = 0;
  int n = 0;
  for (int& w : weighted)
    if (w == 0) w = n++;
  std::vector<TierItem> tier_items;
  for (const auto& it : items_) {
    TierItem t{TierItem::Weight, it.bytes, {}};
    for (int s : it.uses) t.uses.push_back(weighted[s]);
    tier_items.push_back(std::move(t));
  }
  TierPlan p;
  // What other engines sharing the pool hold is not ours to plan with.
  const size_t taken = others_bytes() + fixed_bytes_ + activation_bytes;
  const size_t budget = pool_->capacity() > taken ? pool_->capacity() - taken : 0;
  if (!stream_all && shrink) {
    // Less room than the resident set was planned with: let weights go from it (none if it still fits). A fresh
    // plan would keep other weights of the same cost, and the next run would read each of those once more.
    std::vector<uint8_t> resident;
    std::vector<std::vector<uint8_t>> drop;
    for (const auto& it : items_) {
      resident.push_back(it.resident);
      drop.push_back(it.drop);
    }
    p = shrink_plan(tier_items, n, {budget, kPlanLead}, resident, drop);
  }
  // (Spread: the compute of resident weights is time to read ahead in; see spread_resident.)
  if (!stream_all && !p.feasible)
    p = spread_resident(tier_items, n, {budget, kPlanLead}, plan_tiers(tier_items, n, {budget, kPlanLead}));
  const bool use = !stream_all && p.feasible;
  stats_.resident = stats_.resident_bytes = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    Item& it = items_[i];
    const bool was_resident = it.resident;
    it.resident = use && p.resident[i];
    if (use)
      it.drop = p.drop[i];
    else
      std::fill(it.drop.begin(), it.drop.end(), uint8_t{1});
    // A weight that is no longer resident lets go of its memory now (the new plan needs it elsewhere); one read
    // ahead for this run's first use (the preload) stays: it is what the run reads first under any plan.
    if (was_resident && !it.resident && it.loaded.defined()) recycle(it.loaded);
    stats_.resident += it.resident;
    stats_.resident_bytes += it.resident ? it.bytes : 0;
  }
}

size_t WeightStreamer::others_bytes() const {
  size_t mine = fixed_bytes_ + activations_->live();
  for (const auto& it : items_) mine += it.loaded.defined() ? it.bytes : 0;
  for (const auto& [n, b] : free_) mine += n;
  return pool_->used() > mine ? pool_->used() - mine : 0;
}

void WeightStreamer::sort_loads() {
  std::stable_sort(loads_.begin(), loads_.end(), [](const Load& a, const Load& b) { return a.step < b.step; });
}

size_t WeightStreamer::headroom() const {
  const size_t peak = stats_.runs == 0 ? pool_->capacity() / 4 : stats_.activation_bytes;
  const size_t live = activations_->live();
  return peak > live ? peak - live : 0;
}

size_t WeightStreamer::reclaim() {
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) return 0;
  size_t n = 0;
  for (const auto& [bytes, b] : free_) n += bytes;
  free_.clear();
  if (!busy_) {
    for (auto& it : items_)
      if (it.loaded.defined()) {
        n += it.bytes;
        it.loaded = Tensor();
      }
    planned_for_ = SIZE_MAX;
  } else {
    n += drop_used_resident();
    free_.clear();  // another engine asked: the bytes go back to the pool
  }
  return n;
}

size_t WeightStreamer::drop_used_resident() {
  size_t n = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    Item& it = items_[i];
    if (!it.resident || !it.loaded.defined() || it.uses.back() >= done_below_) continue;
    n += it.bytes;
    recycle(it.loaded);  // to the free list (a weight of the same size may reuse the pages)
    ready_[i] = 0;
  }
  return n;
}

void WeightStreamer::begin_run(bool recording, size_t arena_bytes) {
  stop_loader();  // the preload since the last run: what it read stays loaded for this one
  std::unique_lock<std::mutex> lk(mu_);
  preloading_ = false;
  busy_ = true;
  const size_t activation = std::max(stats_.activation_bytes, arena_bytes);
  if (pool_->is_shared() && !recording) {
    // The engine that runs now gets room for all its weights if idle engines on the pool can give it back,
    // least recently used first: the most recently used models stay resident.
    const size_t want = fixed_bytes_ + activation + stats_.weight_bytes;
    const size_t others = others_bytes();
    const size_t room = pool_->capacity() > others ? pool_->capacity() - others : 0;
    lk.unlock();
    if (want > room) pool_->reclaim(want - room, this);
    lk.lock();
    planned_for_ = SIZE_MAX;  // what the others hold changes between runs: plan again
  }
  if (recording != planned_stream_all_ || activation > planned_for_ || planned_for_ == SIZE_MAX) {
    // Only a larger activation figure keeps to the current plan: a planned run's peak past the one it planned with
    // (the first planned run's often is, by a few hundred bytes: the arena is not the recording run's peak).
    plan(activation, recording, !recording && !planned_stream_all_ && planned_for_ != SIZE_MAX);
    planned_for_ = activation;
    planned_stream_all_ = recording;
  }
  loads_.clear();
  release_after_.assign(static_cast<size_t>(num_steps_), {});
  ready_.assign(items_.size(), 0);
  for (size_t i = 0; i < items_.size(); ++i) {
    const Item& it = items_[i];
    ready_[i] = it.loaded.defined();
    if (!ready_[i]) loads_.push_back({static_cast<int>(i), it.uses[0]});
    if (it.resident) continue;
    for (size_t k = 0; k + 1 < it.uses.size(); ++k)
      if (it.drop[k]) {
        release_after_[it.uses[k]].push_back(static_cast<int>(i));
        loads_.push_back({static_cast<int>(i), it.uses[k + 1]});
      }
    release_after_[it.uses.back()].push_back(static_cast<int>(i));
  }
  sort_loads();
  next_load_ = 0;
  compute_step_ = 0;
  done_below_ = 0;
  finished_.assign(static_cast<size_t>(num_steps_), 0);
  waiting_step_ = -1;
  stop_ = stuck_ = budget_error_ = false;
  error_.clear();
  run_read_s_ = preload_s_;  // reads done between runs for this one count as its reads
  run_bytes_ = preload_bytes_;
  run_loads_ = preload_loads_;
  preload_loads_ = 0;
  run_stall_s_ = 0;
  preload_s_ = 0;
  preload_bytes_ = 0;
  run_start_ = Clock::now();
  activations_->pool().reset_peak();
  activations_->reset_peak();
  pool_->run_started();
  lk.unlock();
  if (!loads_.empty()) loader_ = std::thread([this] { loader_main(); });
}

void WeightStreamer::fail(const std::string& what, bool budget) {
  // (mu_ held)
  if (error_.empty()) {
    error_ = what;
    budget_error_ = budget;
  }
  cv_.notify_all();
}

const Tensor& WeightStreamer::acquire(int step, const Value* v) {
  const int i = index_[v->id];
  std::unique_lock<std::mutex> lk(mu_);
  compute_step_ = std::max(compute_step_, step);
  if (!ready_[i]) {
    const auto t0 = Clock::now();
    waiting_step_ = step;
    cv_.notify_all();
    cv_.wait(lk, [&] { return ready_[i] || !error_.empty(); });
    waiting_step_ = -1;
    run_stall_s_ += seconds_since(t0);
    if (trace_ && trace_->enabled()) trace_->add(TraceSink::Stall, "wait for " + v->name, t0, Clock::now());
  }
  if (!ready_[i]) {
    if (budget_error_) throw DeviceError(error_);
    throw ModelError(error_);
  }
  return items_[i].loaded;
}

bool WeightStreamer::ready(const Value* v) const {
  std::lock_guard<std::mutex> lk(mu_);
  return ready_[index_[v->id]] != 0;
}

void WeightStreamer::recycle(Tensor& t) {
  // (mu_ held, or no loader running.) A buffer nobody else holds goes back to the free list; one that a view
  // still reads (a Reshape of a weight kept as an output) is left to its last owner.
  std::shared_ptr<Buffer> b = t.buffer();
  t = Tensor();
  if (b && b.use_count() == 1) free_.emplace(b->size(), std::move(b));
}

void WeightStreamer::finished(int step) {
  std::lock_guard<std::mutex> lk(mu_);
  for (int i : release_after_[step]) {
    recycle(items_[i].loaded);
    ready_[i] = 0;
  }
  compute_step_ = std::max(compute_step_, step + 1);  // a group's steps finish in any order
  finished_[step] = 1;
  while (done_below_ < num_steps_ && finished_[done_below_]) ++done_below_;
  cv_.notify_all();
}

void WeightStreamer::end_run() {
  stop_loader();
  std::lock_guard<std::mutex> lk(mu_);
  for (size_t i = 0; i < items_.size(); ++i)
    if (!items_[i].resident && items_[i].loaded.defined()) recycle(items_[i].loaded);
  if (stuck_) pool_->set_stuck(false);
  stuck_ = false;
  busy_ = false;
  pool_->run_ended();
  if (pool_->is_shared()) pool_->touch(this);
  // The activation peak to plan with: that of the runs that followed a plan, once there is one (a run recording
  // a plan allocates every intermediate on its own, with no arena and no planned spills: its peak is no guide).
  const size_t peak = activations_->peak();
  if (!planned_stream_all_) {
    // (The resident set stays as planned with the larger figure: planning again would read weights once more.)
    stats_.activation_bytes = planned_runs_++ == 0 ? peak : std::max(stats_.activation_bytes, peak);
  } else if (planned_runs_ == 0) {
    stats_.activation_bytes = std::max(stats_.activation_bytes, peak);
  }
  stats_.runs += 1;
  stats_.last_bytes_read = run_bytes_;
  stats_.last_loads = run_loads_;
  stats_.bytes_read += run_bytes_;
  stats_.last_read_s = run_read_s_;
  stats_.read_s += run_read_s_;
  stats_.last_stall_s = run_stall_s_;
  stats_.stall_s += run_stall_s_;
  stats_.last_run_s = seconds_since(run_start_);
  stats_.run_s += stats_.last_run_s;
  start_preload();
}

size_t WeightStreamer::activation_room(size_t outside) const {
  std::lock_guard<std::mutex> lk(mu_);
  const size_t taken = others_bytes() + fixed_bytes_ + min_weights_ + outside;
  return pool_->capacity() > taken ? pool_->capacity() - taken : 0;
}

TieringStats WeightStreamer::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  TieringStats s = stats_;
  s.loaded_bytes = 0;
  for (const auto& it : items_) s.loaded_bytes += it.loaded.defined() ? it.bytes : 0;
  return s;
}

}  // namespace r1
