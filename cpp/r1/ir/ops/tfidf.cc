// Schema of TfIdfVectorizer over integer token ids (pool_int64s; string pools need the string type,
// which the engine does not have).
#include <algorithm>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_tfidf(InferContext& c) {
  DType t = c.input_dtype(0);
  R1_CHECK(t == DType::Int32 || t == DType::Int64, ModelError)
      << "TfIdfVectorizer of dtype " << dtype_name(t) << " is not supported (int32 or int64 token ids)";
  R1_CHECK(!c.attrs().has("pool_strings"), ModelError) << "TfIdfVectorizer: pool_strings is not supported";
  std::vector<int64_t> idx = c.attrs().get_ints("ngram_indexes");
  R1_CHECK(!idx.empty() && !c.attrs().get_ints("pool_int64s").empty(), ModelError)
      << "TfIdfVectorizer needs ngram_indexes and pool_int64s";
  std::string mode = c.attrs().get_string("mode", "");
  R1_CHECK(mode == "TF" || mode == "IDF" || mode == "TFIDF", ModelError)
      << "TfIdfVectorizer: mode must be TF, IDF or TFIDF, got '" << mode << "'";
  int64_t lo = c.attrs().get_int("min_gram_length", 0), hi = c.attrs().get_int("max_gram_length", 0);
  R1_CHECK(lo >= 1 && hi >= lo, ModelError) << "TfIdfVectorizer: need 1 <= min_gram_length <= max_gram_length";
  int64_t size = *std::max_element(idx.begin(), idx.end()) + 1;
  const Shape& s = c.input_shape(0);
  R1_CHECK(s.size() == 1 || s.size() == 2, InputError) << "TfIdfVectorizer: input must be [N] or [batch, N]";
  c.set_output(0, DType::Float32, s.size() == 1 ? Shape{size} : Shape{s[0], size});
}

}  // namespace

void register_tfidf_ops(OpRegistry& reg) { reg.add(with_opsets(schema("TfIdfVectorizer", 1, 1, infer_tfidf), 9)); }
}  // namespace r1
