// Host helpers shared by MatMul, Gemm (matmul.cu) and r1::FusedMatMul (fused_matmul.cu), which map their
// op onto the GemmArgs of the one tiled kernel (gemm_tile.cuh): index walks, broadcast addends, checks.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "elementwise.cuh"
#include "gemm_tile.cuh"

namespace r1::gpu::gemm {

inline bool gpu_float(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Dims with one or two stride vectors (elements), dims of 1 dropped and neighbours merged where
// both strides continue each other (a contiguous batch becomes one dim).
inline IndexWalk merge_walk(const Shape& dims, const std::vector<int64_t>& s0, const std::vector<int64_t>& s1,
                            const char* op) {
  IndexWalk w;
  for (size_t o = 0; o < dims.size(); ++o) {
    if (dims[o] == 1) continue;
    if (w.rank > 0) {
      const int p = w.rank - 1;
      if (w.s0[p] == s0[o] * dims[o] && w.s1[p] == s1[o] * dims[o]) {
        w.dims[p] *= dims[o];
        w.s0[p] = s0[o];
        w.s1[p] = s1[o];
        continue;
      }
    }
    R1_CHECK(w.rank < gemm::kMaxWalkRank, InputError)
        << op << ": broadcast over more than " << gemm::kMaxWalkRank << " non-mergeable dims";
    w.dims[w.rank] = dims[o];
    w.s0[w.rank] = s0[o];
    w.s1[w.rank] = s1[o];
    ++w.rank;
  }
  return w;
}

// Strides (in elements times `unit`) with which a contiguous tensor of shape `in` is read along
// `out` under numpy broadcasting (right-aligned; 0 along broadcast or missing dims).
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out, int64_t unit) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = unit;
  for (int d = static_cast<int>(in.size()) - 1, o = static_cast<int>(out.size()) - 1; d >= 0 && o >= 0; --d, --o) {
    s[o] = in[d] == 1 && out[o] != 1 ? 0 : stride;
    stride *= in[d];
  }
  return s;
}

// The addend r (Gemm's C, FusedMatMul's residual) broadcast to Y = [lead..., N] without changing
// Y's shape: offset(m, n) = row walk(m) + n * add_cs.
inline void set_addend(GemmArgs& p, const Shape& y, const Shape& r, const char* op, const char* what) {
  bool fits = !y.empty() && r.size() <= y.size();
  for (size_t i = 0; fits && i < r.size(); ++i) {
    const int64_t rd = r[r.size() - 1 - i], yd = y[y.size() - 1 - i];
    fits = rd == 1 || rd == yd;
  }
  R1_CHECK(fits, InputError) << op << ": " << what << " of shape " << shape_str(r)
                             << " does not broadcast to the output " << shape_str(y);
  std::vector<int64_t> s = broadcast_strides(r, y, 1);
  p.add_cs = s.back();
  Shape lead(y.begin(), y.end() - 1);
  s.pop_back();
  p.add_walk = merge_walk(lead, s, std::vector<int64_t>(lead.size(), 0), op);
}

inline void check_output(const Tensor& y, const GemmArgs& p, const char* op) {
  R1_CHECK(y.numel() == p.batch * p.M * p.N, ModelError) << op << ": output " << y.describe() << " does not hold "
                                                         << p.batch << " x " << p.M << " x " << p.N << " elements";
}

template <class F>
void dispatch(const Tensor& a, const char* op, F&& f) {
  dispatch_float_types(a.dtype(), op, std::forward<F>(f));
}

// The predicate: every present input and output of one GPU float dtype.
inline bool one_float_dtype(const Node& n) {
  const Value* a = n.input(0);
  if (!a || !gpu_float(a->dtype)) return false;
  for (const Value* v : n.inputs)
    if (v && v->dtype != a->dtype) return false;
  for (const Value* v : n.outputs)
    if (v && v->dtype != a->dtype) return false;
  return true;
}

}  // namespace r1::gpu::gemm
