#include "r1/cpu/kernels/common.h"

#include <cstring>
#include <type_traits>

namespace r1::cpu {

BroadcastMap::BroadcastMap(const Shape& out, const std::vector<Shape>& ins) : out_(out) {
  int r = static_cast<int>(out.size());
  for (const Shape& s : ins) {
    std::vector<int64_t> st(r, 0);
    int off = r - static_cast<int>(s.size());
    int64_t acc = 1;
    for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
      st[off + i] = (s[i] == 1 && out[off + i] != 1) ? 0 : acc;
      acc *= s[i];
    }
    strides_.push_back(std::move(st));
  }
  row_len_ = r ? out[r - 1] : 1;
  rows_ = 1;
  for (int i = 0; i + 1 < r; ++i) rows_ *= out[i];
  for (auto& st : strides_) steps_.push_back(r ? st[r - 1] : 0);
  if (row_len_ == 0) rows_ = 0;
}

void BroadcastMap::row_offsets(int64_t row, int64_t* offs) const {
  int r = static_cast<int>(out_.size());
  for (size_t k = 0; k < strides_.size(); ++k) offs[k] = 0;
  for (int d = r - 2; d >= 0; --d) {
    int64_t idx = row % out_[d];
    row /= out_[d];
    for (size_t k = 0; k < strides_.size(); ++k) offs[k] += idx * strides_[k][d];
  }
}

void copy_strided(const void* src, void* dst, size_t es, const Shape& out_shape,
                  const std::vector<int64_t>& src_strides, ThreadPool& pool) {
  int r = static_cast<int>(out_shape.size());
  int64_t total = numel(out_shape);
  if (total == 0) return;
  if (r == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  int64_t row_len = out_shape[r - 1];
  int64_t rows = total / row_len;
  int64_t inner = src_strides[r - 1];
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  pool.parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(row_len, 1)),
                    [&](int64_t b, int64_t e) {
                      for (int64_t row = b; row < e; ++row) {
                        int64_t rem = row, off = 0;
                        for (int dd = r - 2; dd >= 0; --dd) {
                          off += (rem % out_shape[dd]) * src_strides[dd];
                          rem /= out_shape[dd];
                        }
                        char* drow = d + row * row_len * es;
                        const char* srow = s + off * es;
                        if (inner == 1) {
                          std::memcpy(drow, srow, row_len * es);
                        } else {
                          for (int64_t i = 0; i < row_len; ++i) std::memcpy(drow + i * es, srow + i * inner * es, es);
                        }
                      }
                    });
}

void broadcast_floats(const float* src, const Shape& s, const Shape& out_shape, float* dst, ThreadPool& pool,
                      const char* what) {
  const int rank = static_cast<int>(out_shape.size()), off = rank - static_cast<int>(s.size());
  R1_CHECK(off >= 0, InputError) << what << " " << shape_str(s) << " does not broadcast to " << shape_str(out_shape);
  std::vector<int64_t> strides(rank, 0);  // 0 where s has size 1 or lacks the dim
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    R1_CHECK(s[i] == out_shape[off + i] || s[i] == 1, InputError)
        << what << " " << shape_str(s) << " does not broadcast to " << shape_str(out_shape);
    strides[off + i] = s[i] == 1 ? 0 : acc;
    acc *= s[i];
  }
  copy_strided(src, dst, sizeof(float), out_shape, strides, pool);
}

FloatIn float_input(const Tensor& t, ThreadPool& pool) {
  FloatIn f;
  if (t.dtype() == DType::Float32) {
    f.p = t.data<float>();
    return f;
  }
  f.buf.resize(static_cast<size_t>(t.numel()));
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = t.data<T>();
    float* d = f.buf.data();
    pool.parallel_for(0, t.numel(), kGrainElementwise, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] = static_cast<float>(s[i]);
    });
  });
  f.p = f.buf.data();
  return f;
}

void store_float(const float* s, Tensor& out, ThreadPool& pool) {
  dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = out.data<T>();
    pool.parallel_for(0, out.numel(), kGrainElementwise, [&](int64_t b, int64_t e) {
      if constexpr (std::is_same_v<T, float>) {
        std::memcpy(d + b, s + b, (e - b) * sizeof(float));
      } else {
        for (int64_t i = b; i < e; ++i) d[i] = T(s[i]);
      }
    });
  });
}

void FloatOut::init(Tensor& out) {
  t = &out;
  if (out.dtype() == DType::Float32) {
    p = out.data<float>();
  } else {
    buf.resize(static_cast<size_t>(out.numel()));
    p = buf.data();
  }
}

void FloatOut::finish(ThreadPool& pool) {
  if (t->dtype() != DType::Float32) store_float(buf.data(), *t, pool);
}

}  // namespace r1::cpu
