// Shapes are vectors of int64 dims. A dim >= 0 is known; kUnknownDim is unknown; values <= -2 are
// symbolic dims (sym_dim(k) names symbol k of the graph's symbol table, e.g. "batch").
// At run time every dim is known; at compile time shape inference propagates symbols.
//
//   Shape s = {sym_dim(0), 128, 384};   is_static(s) == false
//   Shape out = broadcast_shapes(a, b);  // numpy rules; throws InputError when incompatible
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "r1/core/error.h"

namespace r1 {

using Shape = std::vector<int64_t>;

constexpr int64_t kUnknownDim = -1;
inline int64_t sym_dim(int k) { return -2 - static_cast<int64_t>(k); }
inline bool is_sym_dim(int64_t d) { return d <= -2; }
inline int sym_index(int64_t d) { return static_cast<int>(-2 - d); }
inline bool is_known(int64_t d) { return d >= 0; }

bool is_static(const Shape& s);
int64_t numel(const Shape& s);  // product of dims; requires a static shape; InputError on overflow
// Bytes of a tensor of `shape` with elements of `elem_size` bytes, or false when it overflows or
// the shape is not static (for checks on untrusted shapes, e.g. from a file).
bool checked_nbytes(const Shape& s, size_t elem_size, uint64_t* bytes);
std::string shape_str(const Shape& s, const std::vector<std::string>* symbols = nullptr);

// Row-major element strides.
std::vector<int64_t> contiguous_strides(const Shape& s);

// Maps a possibly negative axis into [0, rank); throws InputError naming `what` otherwise.
int normalize_axis(int64_t axis, int rank, const char* what = "axis");

// Numpy broadcasting of two or more shapes. Symbolic or unknown dims broadcast against known ones
// (a symbol against 1 keeps the symbol; two different unknowns give kUnknownDim).
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace r1
