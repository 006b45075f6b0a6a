// The numbers of a KServe JSON request, read without building a Python object per element.
//
//   std::vector<Span> spans = find_data_arrays(body);      // each "data": [...] array, in document order
//   NumberArray a = parse_number_array(body.substr(s.begin, s.end - s.begin));
//   // a.kind: Int (a.ints), Float (a.floats), Bool (a.bools), or NotNumeric (strings, objects, ints
//   // beyond 64 bits: the caller parses that array as ordinary JSON); a.shape: its nesting
//
// Why: json.loads makes a Python object per number (28-32 bytes for a 2-byte "7,"): a 57 MB body of
// integers peaked at 966 MB and held the GIL, and so the event loop, for 3.3 s. These run without the
// GIL at memory speed and hold 8 bytes per element. The grammar is JSON's (RFC 8259) plus NaN, Infinity
// and -Infinity, which Python's json accepts too; anything else throws std::invalid_argument naming the
// byte offset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace r1::wire {

struct Span {
  size_t begin, end;  // [begin, end) of the array's text, brackets included
};

// Arrays that are the value of an object key "data" (at any depth, outside strings). Throws
// std::invalid_argument for an unterminated string or array; other syntax is json.loads's to judge.
std::vector<Span> find_data_arrays(std::string_view json);

struct NumberArray {
  enum Kind { Int, Float, Bool, NotNumeric } kind = Int;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<uint8_t> bools;
  std::vector<int64_t> shape;  // the nesting, e.g. [2, 3] for [[1,2,3],[4,5,6]]
  size_t size() const;
};

// `text` is one JSON array. Ragged nesting or invalid numbers throw std::invalid_argument.
NumberArray parse_number_array(std::string_view text);

}  // namespace r1::wire
