#include "r1/cpu/gemm/sparse_choice.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

namespace r1::cpu::gemm {
namespace {

struct Measured {
  bool sparse;
  double sparse_s, dense_s;
};
using Key = std::tuple<int64_t, int64_t, int64_t, int, bool>;  // rows bucket, K, N, threads, held

std::atomic<SparsePath> g_path{SparsePath::Auto};
std::mutex g_mu;
std::map<Key, Measured>& table() {
  static std::map<Key, Measured> t;
  return t;
}

int64_t bucket(int64_t m) {
  int64_t b = 1;
  while (b < m) b *= 2;
  return b;
}

}  // namespace

void set_sparse_path(SparsePath p) { g_path.store(p); }

double time_seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool choose_sparse(int64_t M, int64_t K, int64_t N, int threads, bool held, const std::function<double(bool)>& time) {
  const SparsePath forced = g_path.load();
  if (forced != SparsePath::Auto) return forced == SparsePath::Sparse;
  const Key key{bucket(M), K, N, threads, held};
  {
    std::lock_guard<std::mutex> lock(g_mu);
    const auto it = table().find(key);
    if (it != table().end()) return it->second.sparse;
  }
  // One warm-up each (scratch pages, cold caches), then the best of three, interleaved: the machine may be
  // shared, and a noisy sample only ever makes a path look slower.
  time(true);
  time(false);
  double sparse_s = 1e30, dense_s = 1e30;
  for (int i = 0; i < 3; ++i) {
    sparse_s = std::min(sparse_s, time(true));
    dense_s = std::min(dense_s, time(false));
  }
  const Measured m{held ? dense_s * (1 + kHeldMargin) >= sparse_s : sparse_s < dense_s, sparse_s, dense_s};
  std::lock_guard<std::mutex> lock(g_mu);
  table().emplace(key, m);
  return m.sparse;
}

std::vector<std::string> sparse_choices() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<std::string> out;
  for (const auto& [k, m] : table()) {
    std::ostringstream os;
    os.precision(3);
    os << "rows<=" << std::get<0>(k) << " K=" << std::get<1>(k) << " N=" << std::get<2>(k)
       << " threads=" << std::get<3>(k) << (std::get<4>(k) ? " held" : "") << ": " << (m.sparse ? "sparse" : "dense")
       << " (sparse " << m.sparse_s * 1e3 << " ms, dense " << m.dense_s * 1e3 << " ms)";
    out.push_back(os.str());
  }
  return out;
}

void clear_sparse_choices() {
  std::lock_guard<std::mutex> lock(g_mu);
  table().clear();
}

}  // namespace r1::cpu::gemm
