#include "r1/runtime/plan_cache.h"

#include <algorithm>
#include <utility>

namespace r1 {

void shape_key(const std::vector<Tensor>& inputs, std::vector<int64_t>* key) {
  key->clear();
  for (const Tensor& t : inputs) {
    key->push_back(t.rank());
    key->insert(key->end(), t.shape().begin(), t.shape().end());
  }
}

void bucket_of(const std::vector<int64_t>& key, std::vector<int64_t>* bucket) {
  std::vector<int64_t>& b = *bucket;
  b = key;
  for (size_t i = 0; i < b.size();) {
    const size_t rank = static_cast<size_t>(b[i++]);
    for (size_t d = 0; d < rank && i < b.size(); ++d, ++i) {
      int64_t p = 1;
      while (p < b[i]) p <<= 1;
      if (b[i] > 0) b[i] = p;
    }
  }
}

void PlanCache::touch(size_t i) { std::rotate(plans_.begin(), plans_.begin() + i, plans_.begin() + i + 1); }

PlanCache::Found PlanCache::find(const std::vector<int64_t>& key, const std::vector<int64_t>& bucket) {
  std::lock_guard<std::mutex> lk(mu_);
  // Usually one plan per bucket; more when keys of a bucket disagree on structure (a dim of the
  // recorded key happened to broadcast differently), so that they do not evict each other.
  size_t first = plans_.size();
  for (size_t i = 0; i < plans_.size(); ++i) {
    Plan& p = *plans_[i];
    if (p.bucket() != bucket || p.stale.load()) continue;
    if (first == plans_.size()) first = i;
    for (auto& ks : p.keys) {
      if (ks->key != key) continue;
      touch(i);
      ++hits_;
      last_ = plans_[0];
      last_key_ = ks;
      return {plans_[0], ks};
    }
  }
  ++misses_;
  if (first == plans_.size()) return {};
  touch(first);
  return {plans_[0], nullptr};
}

void PlanCache::add(const Graph& g, PlanRecorder::Result r, const std::vector<int64_t>& bucket,
                    const std::shared_ptr<Plan>& used, size_t arena_limit) {
  // A layout is immutable once made, so the fit check and the planning run outside the lock.
  const bool fits = used && used->structure() == r.structure && used->fits(r.shapes->need);
  std::shared_ptr<Plan> plan;
  if (!fits) plan = std::make_shared<Plan>(g, std::move(r.structure), r.shapes->need, bucket, arena_limit);
  std::lock_guard<std::mutex> lk(mu_);
  if (fits && !used->stale.load()) {
    auto& keys = used->keys;
    keys.erase(std::remove_if(keys.begin(), keys.end(), [&](auto& k) { return k->key == r.shapes->key; }), keys.end());
    keys.insert(keys.begin(), std::move(r.shapes));
    if (keys.size() > kMaxKeysPerPlan) keys.pop_back();
    ++bucket_reuses_;
    last_ = used;
    last_key_ = keys.front();
    return;
  }
  if (!plan) return;  // it went stale meanwhile: the next run records again
  plan->keys.push_back(r.shapes);
  // The new layout replaces the bucket's stale plans and those of the same structure, taking over
  // the keys that fit it; a plan of another structure stays (its keys would not fit).
  for (auto it = plans_.begin(); it != plans_.end();) {
    Plan& old = **it;
    const bool stale = old.stale.load();
    if (old.bucket() != bucket || (!stale && !(old.structure() == plan->structure()))) {
      ++it;
      continue;
    }
    if (!stale)
      for (auto& ks : old.keys)
        if (ks->key != r.shapes->key && plan->keys.size() < kMaxKeysPerPlan && plan->fits(ks->need))
          plan->keys.push_back(ks);
    it = plans_.erase(it);
  }
  plans_.insert(plans_.begin(), plan);
  if (plans_.size() > kMaxPlans) plans_.pop_back();
  last_ = plan;
  last_key_ = plan->keys.front();
}

void PlanCache::mark_stale(Plan& p) {
  if (!p.stale.exchange(true)) {
    std::lock_guard<std::mutex> lk(mu_);
    ++replans_;
  }
}

PlanCache::Stats PlanCache::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s;
  if (last_) {
    s.arena_bytes = last_->arena_bytes();
    s.sum_intermediate_bytes = last_->sum_bytes();
    s.steps = last_key_->dynamic.size();
    for (size_t i = 0; i < s.steps; ++i) {
      s.inplace_steps += last_->inplace_step(i);
      s.inferred_steps += last_key_->dynamic[i] != 0;
    }
  }
  s.plans_cached = plans_.size();
  for (auto& p : plans_) {
    s.keys_cached += p->keys.size();
    const int n = p->arenas();
    s.arenas += n;
    s.total_arena_bytes += p->arena_bytes() * n;
  }
  s.plan_hits = hits_;
  s.plan_misses = misses_;
  s.bucket_reuses = bucket_reuses_;
  s.replans = replans_;
  return s;
}

}  // namespace r1
