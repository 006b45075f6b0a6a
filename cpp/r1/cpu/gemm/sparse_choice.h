// Which kernel reads a 2:4 sparse int8 weight (pack.h's S8S24): the sparse kernel, which skips the zeros, or
// the dense kernel, over a dense copy of the weight held by its caller (`held`; 8/5 of the compressed bytes
// more, paid only where dense wins) or over panels expanded per call. Neither wins everywhere (the sparse
// kernel halves the dot products but adds a shuffle to each and expands its shuffle controls per block, which
// few rows do not amortize), so the choice is measured: once per (rows bucket, K, N, threads, held), on the
// first product of that shape, both ways into scratch output, and kept for the process. Both give the same
// integers, so the choice changes speed only. A held copy must win by kHeldMargin: it costs memory.
//
//   bool sparse = choose_sparse(M, K, N, threads, held, [&](bool s) { return time_seconds([&] { run(s); }); });
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace r1::cpu::gemm {

enum class SparsePath { Auto, Sparse, Dense };
// Tests and benchmarks force one path; Auto (the default) measures.
void set_sparse_path(SparsePath p);

// The remembered choice for M rows (bucketed to the next power of two), or measured now: time(sparse) runs
// the product once either way and returns its seconds.
constexpr double kHeldMargin = 0.02;
bool choose_sparse(int64_t M, int64_t K, int64_t N, int threads, bool held, const std::function<double(bool)>& time);

// Wall seconds of one fn().
double time_seconds(const std::function<void()>& fn);

// The choices made so far, "rows<=R K=.. N=.. threads=T held: sparse (sparse 0.41 ms, dense 0.63 ms)", for
// reports.
std::vector<std::string> sparse_choices();
void clear_sparse_choices();

}  // namespace r1::cpu::gemm
