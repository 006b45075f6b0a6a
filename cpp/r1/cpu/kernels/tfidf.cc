// CPU kernel of TfIdfVectorizer (integer pools), as onnxruntime counts: the pool's n-grams form a trie;
// from each start position and for each skip distance 1..max_skip_count+1, the walk down the trie
// counts every n-gram of a length >= min_gram_length it meets; unigrams are counted at the first skip
// distance only. Then TF (counts), IDF (the weight where the count is positive) or TFIDF (count x weight),
// a weight per n-gram of the pool.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

struct Trie {
  int64_t id = 0;  // 1-based n-gram id; 0: a prefix only
  std::map<int64_t, std::unique_ptr<Trie>> kids;
};

void tfidf(KernelContext& ctx) {
  const AttributeMap& a = ctx.attrs();
  std::vector<int64_t> pool = a.get_ints("pool_int64s"), counts = a.get_ints("ngram_counts"),
                       indexes = a.get_ints("ngram_indexes");
  std::vector<float> weights = a.get_floats("weights");
  int64_t min_n = a.get_int("min_gram_length", 1), max_n = a.get_int("max_gram_length", 1);
  int64_t max_skip = a.get_int("max_skip_count", 0);
  std::string mode = a.get_string("mode", "TF");
  Trie root;
  int64_t id = 1;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t n = static_cast<int64_t>(i) + 1;
    int64_t begin = counts[i], end = i + 1 < counts.size() ? counts[i + 1] : static_cast<int64_t>(pool.size());
    R1_CHECK(begin >= 0 && begin <= end && end <= static_cast<int64_t>(pool.size()), InputError)
        << "TfIdfVectorizer: ngram_counts do not fit pool_int64s";
    for (int64_t s = begin; s + n <= end; s += n, ++id) {
      if (n < min_n || n > max_n) continue;
      Trie* t = &root;
      for (int64_t j = 0; j < n; ++j) {
        auto& kid = t->kids[pool[s + j]];
        if (!kid) kid = std::make_unique<Trie>();
        t = kid.get();
      }
      t->id = id;
    }
  }
  int64_t out_size = *std::max_element(indexes.begin(), indexes.end()) + 1;
  // weights follow the pool's n-gram order: n-gram k's weight goes to its output position indexes[k].
  std::vector<float> out_weight(static_cast<size_t>(out_size), 1.0f);
  for (size_t k = 0; k < weights.size() && k < indexes.size(); ++k) out_weight[indexes[k]] = weights[k];
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> tokens = x.to_int64_vector();
  int64_t rows = x.rank() == 2 ? x.shape()[0] : 1, len = x.rank() == 2 ? x.shape()[1] : x.numel();
  std::vector<float> out(static_cast<size_t>(rows * out_size), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = tokens.data() + r * len;
    float* freq = out.data() + r * out_size;
    int64_t start_n = min_n;
    for (int64_t skip = 1; skip <= max_skip + 1; ++skip) {
      for (int64_t s = 0; s < len; ++s) {
        if (s + skip * (start_n - 1) >= len) break;
        const Trie* t = &root;
        for (int64_t n = 1, p = s; n <= max_n && p < len; ++n, p += skip) {
          auto it = t->kids.find(row[p]);
          if (it == t->kids.end()) break;
          t = it->second.get();
          if (n >= start_n && t->id != 0) {
            int64_t o = indexes.at(static_cast<size_t>(t->id - 1));
            R1_CHECK(o >= 0 && o < out_size, InputError) << "TfIdfVectorizer: ngram index " << o << " out of range";
            freq[o] += 1;
          }
        }
      }
      if (start_n == 1 && ++start_n > max_n) break;  // unigrams do not depend on the skip distance
    }
    for (int64_t o = 0; o < out_size; ++o) {
      float w = out_weight[o];
      if (mode == "IDF") freq[o] = freq[o] > 0 ? w : 0;
      if (mode == "TFIDF") freq[o] *= w;
    }
  }
  store_float(out.data(), ctx.output(0), ctx.pool());
}

}  // namespace

void register_tfidf_kernels(KernelTable& t) { t.add("TfIdfVectorizer", tfidf); }
}  // namespace r1::cpu
