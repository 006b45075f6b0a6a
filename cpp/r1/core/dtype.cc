#include "r1/core/dtype.h"

namespace r1 {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Int32:
    case DType::UInt32:
      return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16:
    case DType::UInt16:
      return 2;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool:
      return 1;
    case DType::Int64:
    case DType::UInt64:
    case DType::Float64:
      return 8;
    case DType::String:
      return sizeof(std::string);
    default:
      return 0;
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float16:
      return "float16";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Int8:
      return "int8";
    case DType::UInt8:
      return "uint8";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Int16:
      return "int16";
    case DType::UInt16:
      return "uint16";
    case DType::UInt32:
      return "uint32";
    case DType::UInt64:
      return "uint64";
    case DType::Float64:
      return "float64";
    case DType::String:
      return "string";
    case DType::Bool:
      return "bool";
    default:
      return "undefined";
  }
}

DType dtype_from_name(const std::string& name) {
  for (DType t :
       {DType::Float32, DType::Float16, DType::BFloat16, DType::Float64, DType::Int8, DType::UInt8, DType::Int16,
        DType::UInt16, DType::Int32, DType::UInt32, DType::Int64, DType::UInt64, DType::Bool, DType::String})
    if (name == dtype_name(t)) return t;
  R1_THROW(InputError) << "unsupported dtype '" << name << "' (supported: " << kSupportedDtypes << ")";
}

bool dtype_is_valid_code(int code) {
  switch (code) {
    case 1:
    case 2:
    case 3:
    case 6:
    case 7:
    case 4:
    case 5:
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
    case 13:
    case 16:
      return true;
    default:
      return false;
  }
}

}  // namespace r1
