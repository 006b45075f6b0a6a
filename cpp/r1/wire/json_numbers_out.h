// Numbers to the text of a JSON array, without a Python object per element.
//
//   std::string s = json_array_text(values, n);     // "[1,2.5,\"NaN\"]"
//
// Why: json.dumps of a tolist() took 0.85 s for 8M int32 outputs, holding the GIL (and so the event loop)
// all along; float32 went through Python floats and came out with 17 digits ("0.33391112089157104" for
// 0.33391112f). Here each value is written with std::to_chars in its own type's shortest form that reads
// back to the same value ("0.33391112"), floats keep a ".0" so they stay floats for a JSON reader, and the
// non-finite values, which JSON has no number for, are the strings "NaN", "Infinity" and "-Infinity"
// (numpy and tritonclient read them back as floats; so do we).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace r1::wire {

std::string json_array_text(const bool* v, size_t n);
std::string json_array_text(const int64_t* v, size_t n);
std::string json_array_text(const uint64_t* v, size_t n);
std::string json_array_text(const int32_t* v, size_t n);
std::string json_array_text(const float* v, size_t n);
std::string json_array_text(const double* v, size_t n);

}  // namespace r1::wire
