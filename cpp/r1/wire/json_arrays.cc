#include "r1/wire/json_arrays.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace r1::wire {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

[[noreturn]] void fail(const std::string& what, size_t at) {
  throw std::invalid_argument(what + " at byte " + std::to_string(at));
}

// The end of the string starting at s[i] == '"'.
size_t skip_string(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  fail("unterminated string", s.size());
}

// The end of the array starting at s[i] == '['.
size_t skip_array(std::string_view s, size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      i = skip_string(s, i) - 1;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return i + 1;
    }
  }
  fail("unterminated array", s.size());
}

// A JSON number token (strict grammar); returns its end, or `i` when s[i] does not start one.
size_t number_end(std::string_view s, size_t i, bool* is_int) {
  const size_t start = i;
  *is_int = true;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !is_digit(s[i])) return start;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    *is_int = false;
    if (++i >= s.size() || !is_digit(s[i])) fail("invalid number", start);
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    *is_int = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !is_digit(s[i])) fail("invalid number", start);
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i;
}

bool starts(std::string_view s, size_t i, std::string_view word) { return s.substr(i, word.size()) == word; }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  NumberArray run() {
    // Room for every element at once: growing by doubling would briefly hold 1.5x the final array.
    out_.ints.reserve(static_cast<size_t>(std::count(s_.begin(), s_.end(), ',')) + 1);
    size_t i = ws(0);
    if (i >= s_.size() || s_[i] != '[') fail("expected an array", i);
    i = ws(array(i, 0));
    if (i != s_.size()) fail("trailing characters after the array", i);
    out_.shape = dims_;
    return std::move(out_);
  }

 private:
  size_t ws(size_t i) const {
    while (i < s_.size() && is_space(s_[i])) ++i;
    return i;
  }

  // The array at s_[i] == '[' at nesting `depth`; returns the index after its ']'.
  size_t array(size_t i, size_t depth) {
    if (depth > 64) fail("data nests too deeply", i);
    int64_t n = 0;
    bool nested = false;
    i = ws(i + 1);
    if (i < s_.size() && s_[i] == ']') {
      close(depth, 0, false, i);
      return i + 1;
    }
    for (;;) {
      if (i >= s_.size()) fail("unterminated array", i);
      const bool sub = s_[i] == '[';
      if (n > 0 && sub != nested) fail("ragged data (numbers and arrays at one level)", i);
      nested = sub;
      i = sub ? array(i, depth + 1) : scalar(i);
      if (out_.kind == NumberArray::NotNumeric) return s_.size();
      ++n;
      i = ws(i);
      if (i < s_.size() && s_[i] == ',') {
        i = ws(i + 1);
        continue;
      }
      if (i < s_.size() && s_[i] == ']') break;
      fail("expected ',' or ']'", i);
    }
    close(depth, n, nested, i);
    return i + 1;
  }

  // Rectangular: every array at one depth has the same length, and every innermost array (numbers, or
  // empty) is at the same depth. Arrays close innermost first, so dims_ fills from the bottom up.
  void close(size_t depth, int64_t n, bool nested, size_t at) {
    if (dims_.size() <= depth) dims_.resize(depth + 1, -1);
    if (dims_[depth] < 0) {
      dims_[depth] = n;
    } else if (dims_[depth] != n) {
      fail("ragged data (arrays of different lengths at one level)", at);
    }
    if (nested) return;
    if (leaf_depth_ < 0) {
      leaf_depth_ = static_cast<int64_t>(depth);
    } else if (leaf_depth_ != static_cast<int64_t>(depth)) {
      fail("ragged data (numbers at different depths)", at);
    }
  }

  size_t scalar(size_t i) {
    const char c = s_[i];
    if (c == 't' || c == 'f') {
      const std::string_view word = c == 't' ? "true" : "false";
      if (!starts(s_, i, word)) fail("invalid literal", i);
      if (kind(NumberArray::Bool)) out_.bools.push_back(c == 't');
      return i + word.size();
    }
    if (c == 'N' || c == 'I' || (c == '-' && starts(s_, i, "-Infinity"))) {
      double v;
      size_t len;
      if (starts(s_, i, "NaN")) {
        v = std::numeric_limits<double>::quiet_NaN(), len = 3;
      } else if (starts(s_, i, "Infinity")) {
        v = std::numeric_limits<double>::infinity(), len = 8;
      } else if (starts(s_, i, "-Infinity")) {
        v = -std::numeric_limits<double>::infinity(), len = 9;
      } else {
        fail("invalid literal", i);
      }
      push_float(v);
      return i + len;
    }
    if (c == '"') {  // the strings our encoder writes for the non-finite floats (json_numbers_out.h)
      for (auto [word, v] : {std::pair<std::string_view, double>{"\"NaN\"", std::numeric_limits<double>::quiet_NaN()},
                             {"\"Infinity\"", std::numeric_limits<double>::infinity()},
                             {"\"-Infinity\"", -std::numeric_limits<double>::infinity()}}) {
        if (starts(s_, i, word)) {
          push_float(v);
          return i + word.size();
        }
      }
      out_.kind = NumberArray::NotNumeric;  // any other string: not a numeric array
      return i;
    }
    bool is_int;
    const size_t end = number_end(s_, i, &is_int);
    if (end == i) {  // a string, an object, null: not a numeric array
      out_.kind = NumberArray::NotNumeric;
      return i;
    }
    const char* b = s_.data() + i;
    const char* e = s_.data() + end;
    if (is_int && out_.kind != NumberArray::Float) {
      int64_t v;
      auto r = std::from_chars(b, e, v);
      if (r.ec == std::errc::result_out_of_range) {  // past 64 bits (UINT64's top half): json.loads decides
        out_.kind = NumberArray::NotNumeric;
        return i;
      }
      if (kind(NumberArray::Int)) out_.ints.push_back(v);
      return end;
    }
    double v;
    auto r = std::from_chars(b, e, v);
    if (r.ec == std::errc::result_out_of_range) {  // 1e400 / 1e-400: inf / 0, as Python's float() reads them
      v = std::strtod(std::string(b, e).c_str(), nullptr);
    } else if (r.ec != std::errc()) {
      fail("invalid number", i);
    }
    push_float(v);
    return end;
  }

  void push_float(double v) {
    if (seen_ && out_.kind == NumberArray::Bool) return mixed();
    if (out_.kind == NumberArray::Int) {  // the first float: the ints before it become floats, once
      out_.kind = NumberArray::Float;
      out_.floats.reserve(out_.ints.capacity());
      for (int64_t i : out_.ints) out_.floats.push_back(static_cast<double>(i));
      out_.ints = std::vector<int64_t>();
    }
    seen_ = true;
    out_.floats.push_back(v);
  }

  // False (and the array NotNumeric) when booleans and numbers mix: numpy reads true as 1 there, and the
  // caller's json.loads path keeps that behaviour rather than this reader inventing another.
  bool kind(NumberArray::Kind k) {
    const bool is_bool = k == NumberArray::Bool;
    if (seen_ && (is_bool != (out_.kind == NumberArray::Bool))) {
      mixed();
      return false;
    }
    if (!seen_) out_.kind = k;
    seen_ = true;
    return true;
  }

  void mixed() { out_.kind = NumberArray::NotNumeric; }

  std::string_view s_;
  NumberArray out_;
  std::vector<int64_t> dims_;
  bool seen_ = false;
  int64_t leaf_depth_ = -1;
};

}  // namespace

size_t NumberArray::size() const {
  switch (kind) {
    case Int:
      return ints.size();
    case Float:
      return floats.size();
    case Bool:
      return bools.size();
    default:
      return 0;
  }
}

std::vector<Span> find_data_arrays(std::string_view s) {
  std::vector<Span> out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '"') continue;
    const size_t end = skip_string(s, i);
    const bool is_data = end - i == 6 && s.substr(i, 6) == "\"data\"";
    i = end - 1;
    if (!is_data) continue;
    size_t j = end;
    while (j < s.size() && is_space(s[j])) ++j;
    if (j >= s.size() || s[j] != ':') continue;  // "data" as a value, not a key
    ++j;
    while (j < s.size() && is_space(s[j])) ++j;
    if (j >= s.size() || s[j] != '[') continue;
    const size_t close = skip_array(s, j);
    out.push_back({j, close});
    i = close - 1;
  }
  return out;
}

NumberArray parse_number_array(std::string_view text) { return Parser(text).run(); }

}  // namespace r1::wire
