// The strided copy engine of copy_util.h.
#include <algorithm>
#include <cstring>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/copy_util.h"

namespace r1::cpu {

namespace {

template <class U>
void transpose_block(const U* s, U* d, int64_t R, int64_t C, int64_t col_stride, int64_t i0, int64_t i1) {
  // d[i*C + j] = s[i + j*col_stride], for rows i in [i0, i1)
  constexpr int64_t B = 32;
  for (int64_t jb = 0; jb < C; jb += B) {
    int64_t je = std::min(C, jb + B);
    for (int64_t i = i0; i < i1; ++i) {
      U* drow = d + i * C;
      const U* scol = s + i;
      for (int64_t j = jb; j < je; ++j) drow[j] = scol[j * col_stride];
    }
  }
  (void)R;
}

}  // namespace

void strided_copy(const void* src_v, void* dst_v, size_t es, const Shape& out_in, const std::vector<int64_t>& st_in,
                  ThreadPool& pool) {
  int64_t total = 1;
  for (int64_t d : out_in) total *= d;
  if (total == 0) return;
  // Simplify: drop size-1 dims, merge dims that are contiguous with each other.
  Shape out;
  std::vector<int64_t> st;
  for (size_t i = 0; i < out_in.size(); ++i) {
    if (out_in[i] == 1) continue;
    if (!out.empty() && st.back() == st_in[i] * out_in[i]) {
      out.back() *= out_in[i];
      st.back() = st_in[i];
    } else {
      out.push_back(out_in[i]);
      st.push_back(st_in[i]);
    }
  }
  const char* src = static_cast<const char*>(src_v);
  char* dst = static_cast<char*>(dst_v);
  int r = static_cast<int>(out.size());
  if (r == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  if (r == 1 && st[0] == 1) {
    int64_t bytes = total * static_cast<int64_t>(es);
    pool.parallel_for(0, bytes, 1 << 20, [&](int64_t b, int64_t e) { std::memcpy(dst + b, src + b, e - b); });
    return;
  }
  dispatch_size(es, [&](auto tag) {
    using U = decltype(tag);
    const U* s = reinterpret_cast<const U*>(src);
    U* d = reinterpret_cast<U*>(dst);
    // Blocked transpose of the inner two dims: input-contiguous along dim r-2.
    if (r >= 2 && st[r - 2] == 1 && st[r - 1] != 1 && out[r - 1] >= 4 && out[r - 2] >= 4) {
      int64_t R = out[r - 2], C = out[r - 1], cs = st[r - 1];
      int64_t mats = total / (R * C);
      constexpr int64_t RB = 32;
      int64_t rblocks = (R + RB - 1) / RB;
      pool.parallel_for(0, mats * rblocks, std::max<int64_t>(1, 16384 / (RB * C)), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          int64_t m = t / rblocks, rb = t % rblocks;
          int64_t rem = m, off = 0;
          for (int k = r - 3; k >= 0; --k) {
            off += (rem % out[k]) * st[k];
            rem /= out[k];
          }
          transpose_block(s + off, d + m * R * C, R, C, cs, rb * RB, std::min(R, rb * RB + RB));
        }
      });
      return;
    }
    int64_t row = out[r - 1], inner = st[r - 1];
    int64_t rows = total / row;
    pool.parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / row), [&](int64_t b, int64_t e) {
      // Odometer over the outer dims, started at row b.
      std::vector<int64_t> idx(r > 1 ? r - 1 : 1, 0);
      int64_t rem = b, off = 0;
      for (int k = r - 2; k >= 0; --k) {
        idx[k] = rem % out[k];
        rem /= out[k];
        off += idx[k] * st[k];
      }
      for (int64_t rr = b; rr < e; ++rr) {
        U* drow = d + rr * row;
        const U* srow = s + off;
        if (inner == 1) {
          std::memcpy(drow, srow, row * sizeof(U));
        } else if (inner == 0) {
          U v = srow[0];
          for (int64_t j = 0; j < row; ++j) drow[j] = v;
        } else {
          for (int64_t j = 0; j < row; ++j) drow[j] = srow[j * inner];
        }
        for (int k = r - 2; k >= 0; --k) {
          off += st[k];
          if (++idx[k] < out[k]) break;
          off -= idx[k] * st[k];
          idx[k] = 0;
        }
      }
    });
  });
}

void permute_copy(const void* src, void* dst, size_t es, const Shape& in_shape, const std::vector<int64_t>& perm,
                  ThreadPool& pool) {
  std::vector<int64_t> in_st = contiguous_strides(in_shape);
  Shape out(perm.size());
  std::vector<int64_t> st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out[i] = in_shape[perm[i]];
    st[i] = in_st[perm[i]];
  }
  strided_copy(src, dst, es, out, st, pool);
}

}  // namespace r1::cpu
