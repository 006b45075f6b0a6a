// The list of ops that take the wide element types (see wide_types.h).
#include "r1/ir/ops/wide_types.h"

#include <set>

namespace r1 {

bool is_wide_dtype(DType t) {
  return t == DType::Float64 || t == DType::Int16 || t == DType::UInt16 || t == DType::UInt32 || t == DType::UInt64;
}

bool takes_wide_types(const std::string& op_type, const std::string& domain) {
  static const std::set<std::string> ops = {
      // arithmetic, comparison and bit ops (computed in the type itself: double for float64)
      "Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Sum", "Neg", "Abs", "Sign", "Equal", "Less", "Greater",
      "LessOrEqual", "GreaterOrEqual", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "CumSum",
      "CumProd", "Einsum", "MatMul", "Softmax", "LogSoftmax", "Where", "Relu", "Clip",
      // float math (float64 only: their schemas take no wide integer type)
      "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
      "Cosh", "Asinh", "Acosh", "Atanh", "Erf",
      // reductions
      "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
      "ReduceLogSumExp", "ArgMax", "ArgMin",
      // conversions and data movement (bytes whatever they mean)
      "Cast", "CastLike", "BitCast", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat",
      "Split", "Slice", "Expand", "Tile", "Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements",
      "Shape", "Size", "Compress", "ReverseSequence", "ConstantOfShape", "EyeLike", "Range", "NonZero", "Pad", "Trilu",
      "Unique",
      // random generators (float64 outputs)
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
      // quantized int16 / uint16
      "QuantizeLinear", "DequantizeLinear",
      // sequences and optionals hold any element type
      "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt", "SequenceErase", "SequenceLength",
      "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional", "OptionalHasElement", "OptionalGetElement",
      // control flow passes values through
      "If", "Loop", "Scan"};
  return domain.empty() && ops.count(op_type) > 0;
}

bool takes_strings(const std::string& op_type, const std::string& domain) {
  static const std::set<std::string> ops = {"StringConcat", "StringSplit",       "RegexFullMatch", "StringNormalizer",
                                            "Equal",        "Identity",          "Reshape",        "Squeeze",
                                            "Unsqueeze",    "Flatten",           "Shape",          "Size",
                                            "If",           "SequenceConstruct", "SequenceAt",     "SequenceLength"};
  return domain.empty() && ops.count(op_type) > 0;
}

}  // namespace r1
