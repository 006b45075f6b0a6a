// The ops that take the wide element types: float64 and the 16/32/64-bit integers other than int32 and
// int64 (int16, uint16, uint32, uint64). Every other op rejects them with a ModelError naming the op, the
// node and the type (run_infer checks): their kernels compute in float32 or in the narrow types only.
// Each op listed here is tested with each wide type against numpy (tests/python/kernels/
// test_kernels_wide_dtypes.py); add an op only with its test.
#pragma once
#include <string>

#include "r1/core/dtype.h"

namespace r1 {

bool is_wide_dtype(DType t);
bool takes_wide_types(const std::string& op_type, const std::string& domain);
// Strings reach only the string ops, Equal, and the ops that pass values through as they are.
bool takes_strings(const std::string& op_type, const std::string& domain);

}  // namespace r1
