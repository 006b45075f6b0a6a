// Element types. Values equal ONNX TensorProto.DataType codes so the importer
// and the .r1 format can store them directly.
//
//   DType t = DType::Float16;  size_t n = dtype_size(t);  // 2
//   dispatch_numeric(t, [&](auto tag) { using T = decltype(tag); ... });
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "r1/core/error.h"
#include "r1/core/half.h"

namespace r1 {

enum class DType : uint8_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,  // std::string elements in a StringBuffer (tensor.h), never in raw or arena memory
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
};

// For messages that list them.
inline constexpr const char* kSupportedDtypes =
    "float32, float16, bfloat16, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool, string";

size_t dtype_size(DType t);
const char* dtype_name(DType t);                 // "float32", "int64", ...
DType dtype_from_name(const std::string& name);  // inverse of dtype_name; throws InputError
bool dtype_is_valid_code(int code);
// The floats the float kernels (GEMM, convolution, activations, normalizations) take: float64 is not
// one of them (elementwise arithmetic, comparisons, reductions and data movement take it: is_float64).
inline bool is_float(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }
inline bool is_integer(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16 || t == DType::Int32 ||
         t == DType::UInt32 || t == DType::Int64 || t == DType::UInt64;
}

template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct dtype_of<half> {
  static constexpr DType value = DType::Float16;
};
template <>
struct dtype_of<bfloat16> {
  static constexpr DType value = DType::BFloat16;
};
template <>
struct dtype_of<int8_t> {
  static constexpr DType value = DType::Int8;
};
template <>
struct dtype_of<uint8_t> {
  static constexpr DType value = DType::UInt8;
};
template <>
struct dtype_of<int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct dtype_of<int16_t> {
  static constexpr DType value = DType::Int16;
};
template <>
struct dtype_of<uint16_t> {
  static constexpr DType value = DType::UInt16;
};
template <>
struct dtype_of<uint32_t> {
  static constexpr DType value = DType::UInt32;
};
template <>
struct dtype_of<uint64_t> {
  static constexpr DType value = DType::UInt64;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::Float64;
};
template <>
struct dtype_of<std::string> {
  static constexpr DType value = DType::String;
};
template <>
struct dtype_of<bool> {
  static constexpr DType value = DType::Bool;
};

// Calls f(T{}) with the C++ type of `t`. Every dtype, including bool.
template <class F>
auto dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float16:
      return f(half{});
    case DType::BFloat16:
      return f(bfloat16{});
    case DType::Int8:
      return f(int8_t{});
    case DType::UInt8:
      return f(uint8_t{});
    case DType::Int32:
      return f(int32_t{});
    case DType::Int64:
      return f(int64_t{});
    case DType::Int16:
      return f(int16_t{});
    case DType::UInt16:
      return f(uint16_t{});
    case DType::UInt32:
      return f(uint32_t{});
    case DType::UInt64:
      return f(uint64_t{});
    case DType::Float64:
      return f(double{});
    case DType::Bool:
      return f(bool{});
    default:
      break;
  }
  R1_THROW(InternalError) << "dispatch on undefined dtype";
}

// Arithmetic types: everything but bool.
template <class F>
auto dispatch_numeric(DType t, F&& f) {
  R1_CHECK(t != DType::Bool, InputError) << "operation not defined for bool tensors";
  return dispatch_all(t, std::forward<F>(f));
}

// Floating types only.
template <class F>
auto dispatch_float(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float16:
      return f(half{});
    case DType::BFloat16:
      return f(bfloat16{});
    default:
      break;
  }
  R1_THROW(InputError) << "operation needs a floating-point tensor, got " << dtype_name(t);
}

// Compute type used for arithmetic on T: float for the 16-bit floats, T otherwise.
template <class T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<half> {
  using type = float;
};
template <>
struct compute_type<bfloat16> {
  using type = float;
};
template <class T>
using compute_t = typename compute_type<T>::type;

}  // namespace r1
