// Schemas of the string ops: StringConcat, StringSplit, RegexFullMatch, StringNormalizer.
#include <regex>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void need_string(InferContext& c, size_t i) {
  R1_CHECK(c.input_dtype(i) == DType::String, ModelError)
      << c.node().op_type << ": input " << i << " must be a string tensor, got " << dtype_name(c.input_dtype(i));
}

void infer_string_concat(InferContext& c) {
  need_string(c, 0);
  need_string(c, 1);
  infer_broadcast(c);
}

// Y [..., most pieces] (padded with ""), Z [...] the piece counts.
void infer_string_split(InferContext& c) {
  need_string(c, 0);
  R1_CHECK(c.attrs().get_int("maxsplit", 1) >= 0 || !c.attrs().has("maxsplit"), ModelError)
      << "StringSplit: maxsplit must be non-negative";
  Shape y = c.input_shape(0);
  c.set_output(1, DType::Int64, y);
  y.push_back(kUnknownDim);
  c.set_output(0, DType::String, y);
}

void infer_regex_full_match(InferContext& c) {
  need_string(c, 0);
  std::string pattern = c.attrs().get_string("pattern", "");
  try {
    std::regex re(pattern);
  } catch (const std::regex_error& e) {
    R1_THROW(ModelError) << "RegexFullMatch: pattern '" << pattern
                         << "' is not a valid regular expression: " << e.what();
  }
  c.set_output(0, DType::Bool, c.input_shape(0));
}

void infer_string_normalizer(InferContext& c) {
  need_string(c, 0);
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 1 || (s.size() == 2 && (s[0] == 1 || !is_known(s[0]))), InputError)
      << "StringNormalizer: input must be [C] or [1, C], got " << shape_str(s);
  std::string action = c.attrs().get_string("case_change_action", "NONE");
  R1_CHECK(action == "NONE" || action == "LOWER" || action == "UPPER", ModelError)
      << "StringNormalizer: case_change_action must be NONE, LOWER or UPPER, got '" << action << "'";
  Shape out = s;
  out.back() = kUnknownDim;  // stopwords removed
  c.set_output(0, DType::String, out);
}

}  // namespace

void register_strings_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("StringConcat", 2, 2, infer_string_concat), 20));
  reg.add(with_opsets(schema("StringSplit", 1, 1, infer_string_split, 2, 2), 20));
  reg.add(with_opsets(schema("RegexFullMatch", 1, 1, infer_regex_full_match), 20));
  reg.add(with_opsets(schema("StringNormalizer", 1, 1, infer_string_normalizer), 10));
}
}  // namespace r1
