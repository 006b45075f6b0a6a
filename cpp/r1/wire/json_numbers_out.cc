#include "r1/wire/json_numbers_out.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace r1::wire {
namespace {

template <class T>
void put_int(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

template <class T>
void put_float(std::string& out, T v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return;
  }
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest text that reads back to v in T
  out.append(buf, r.ptr);
  if (!std::memchr(buf, '.', r.ptr - buf) && !std::memchr(buf, 'e', r.ptr - buf)) out += ".0";
}

template <class T, class Put>
std::string array_text(const T* v, size_t n, size_t per_value, Put put) {
  std::string out;
  out.reserve(2 + n * per_value);
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    put(out, v[i]);
  }
  out += ']';
  return out;
}

}  // namespace

std::string json_array_text(const bool* v, size_t n) {
  return array_text(v, n, 6, [](std::string& out, bool b) { out += b ? "true" : "false"; });
}
std::string json_array_text(const int64_t* v, size_t n) { return array_text(v, n, 4, put_int<int64_t>); }
std::string json_array_text(const uint64_t* v, size_t n) { return array_text(v, n, 4, put_int<uint64_t>); }
std::string json_array_text(const int32_t* v, size_t n) { return array_text(v, n, 4, put_int<int32_t>); }
std::string json_array_text(const float* v, size_t n) { return array_text(v, n, 11, put_float<float>); }
std::string json_array_text(const double* v, size_t n) { return array_text(v, n, 12, put_float<double>); }

}  // namespace r1::wire
