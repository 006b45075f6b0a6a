#include "r1/core/shape.h"

#include <sstream>

namespace r1 {

bool is_static(const Shape& s) {
  for (auto d : s)
    if (d < 0) return false;
  return true;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    R1_CHECK(d >= 0, InternalError) << "numel of non-static shape " << shape_str(s);
    R1_CHECK(!__builtin_mul_overflow(n, d, &n), InputError) << "a tensor of shape " << shape_str(s) << " is too large";
  }
  return n;
}

bool checked_nbytes(const Shape& s, size_t elem_size, uint64_t* bytes) {
  uint64_t n = elem_size;
  for (auto d : s) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  // Keep every byte count representable as a signed 64-bit offset.
  if (n > static_cast<uint64_t>(INT64_MAX)) return false;
  *bytes = n;
  return true;
}

std::string shape_str(const Shape& s, const std::vector<std::string>* symbols) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) os << ", ";
    if (is_known(s[i])) {
      os << s[i];
    } else if (is_sym_dim(s[i])) {
      int k = sym_index(s[i]);
      if (symbols && k < static_cast<int>(symbols->size()))
        os << (*symbols)[k];
      else
        os << "s" << k;
    } else {
      os << "?";
    }
  }
  os << "]";
  return os.str();
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= (s[i] > 0 ? s[i] : 1);
  }
  return st;
}

int normalize_axis(int64_t axis, int rank, const char* what) {
  int64_t a = axis < 0 ? axis + rank : axis;
  R1_CHECK(a >= 0 && a < rank, InputError) << what << " " << axis << " is out of range for rank " << rank;
  return static_cast<int>(a);
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else if (db == 1)
      out[i] = da;
    else if (is_known(da) && is_known(db))
      R1_THROW(InputError) << "shapes " << shape_str(a) << " and " << shape_str(b) << " cannot be broadcast";
    else if (is_known(da) && da != 1)
      out[i] = da;  // the other side must equal it at run time
    else if (is_known(db) && db != 1)
      out[i] = db;
    else
      out[i] = kUnknownDim;
  }
  return out;
}

}  // namespace r1
