// Einsum equation parsing, shared by shape inference (ir/ops/einsum.cc) and the CPU and GPU kernels.
//
//   EinsumSpec s = parse_einsum("bij,bjk->bik", {3, 3});
//   s.inputs[0] == {'b','i','j'};  s.output == {'b','i','k'}
// Letters keep their character code as label; the dims an ellipsis stands for become labels
// kEinsumEllipsisLabel + j (j = 0 for the leftmost of the broadcast ellipsis dims).
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "r1/core/error.h"

namespace r1 {

constexpr int kEinsumEllipsisLabel = 1000;

struct EinsumSpec {
  std::vector<std::vector<int>> inputs;  // one label per dim of each operand
  std::vector<int> output;               // one label per output dim
  int ellipsis_rank = 0;
};

inline EinsumSpec parse_einsum(const std::string& equation, const std::vector<int>& ranks) {
  std::string eq;
  for (char c : equation)
    if (c != ' ' && c != '\t') eq += c;
  std::string lhs = eq, rhs;
  bool has_arrow = false;
  size_t arrow = eq.find("->");
  if (arrow != std::string::npos) {
    has_arrow = true;
    lhs = eq.substr(0, arrow);
    rhs = eq.substr(arrow + 2);
  }
  std::vector<std::string> terms;
  {
    size_t start = 0;
    while (true) {
      size_t comma = lhs.find(',', start);
      terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  R1_CHECK(terms.size() == ranks.size(), ModelError) << "Einsum equation '" << equation << "' has " << terms.size()
                                                     << " operand terms but the node has " << ranks.size() << " inputs";
  auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  // Explicit letters and ellipsis position per term.
  struct Term {
    std::vector<int> before, after;
    bool ellipsis = false;
  };
  auto split_term = [&](const std::string& t) {
    Term r;
    size_t i = 0;
    while (i < t.size()) {
      if (t.compare(i, 3, "...") == 0) {
        R1_CHECK(!r.ellipsis, ModelError) << "Einsum equation '" << equation << "': two ellipses in one term";
        r.ellipsis = true;
        i += 3;
        continue;
      }
      R1_CHECK(is_letter(t[i]), ModelError)
          << "Einsum equation '" << equation << "': invalid character '" << t[i] << "'";
      (r.ellipsis ? r.after : r.before).push_back(static_cast<unsigned char>(t[i]));
      ++i;
    }
    return r;
  };
  EinsumSpec spec;
  std::vector<Term> parsed;
  for (size_t k = 0; k < terms.size(); ++k) {
    Term t = split_term(terms[k]);
    int explicit_dims = static_cast<int>(t.before.size() + t.after.size());
    if (t.ellipsis) {
      R1_CHECK(explicit_dims <= ranks[k], InputError)
          << "Einsum equation '" << equation << "': operand " << k << " has rank " << ranks[k] << " but its term names "
          << explicit_dims << " dims";
      spec.ellipsis_rank = std::max(spec.ellipsis_rank, ranks[k] - explicit_dims);
    } else {
      R1_CHECK(explicit_dims == ranks[k], InputError)
          << "Einsum equation '" << equation << "': operand " << k << " has rank " << ranks[k] << " but its term names "
          << explicit_dims << " dims";
    }
    parsed.push_back(std::move(t));
  }
  std::vector<int> count(128, 0);
  for (size_t k = 0; k < parsed.size(); ++k) {
    const Term& t = parsed[k];
    std::vector<int> labels = t.before;
    if (t.ellipsis) {
      int e = ranks[k] - static_cast<int>(t.before.size() + t.after.size());
      for (int j = 0; j < e; ++j) labels.push_back(kEinsumEllipsisLabel + spec.ellipsis_rank - e + j);
    }
    labels.insert(labels.end(), t.after.begin(), t.after.end());
    for (int l : t.before) ++count[l];
    for (int l : t.after) ++count[l];
    spec.inputs.push_back(std::move(labels));
  }
  if (has_arrow) {
    Term t = split_term(rhs);
    std::vector<int> seen(128, 0);
    for (int l : t.before) spec.output.push_back(l);
    if (t.ellipsis)
      for (int j = 0; j < spec.ellipsis_rank; ++j) spec.output.push_back(kEinsumEllipsisLabel + j);
    for (int l : t.after) spec.output.push_back(l);
    for (int l : spec.output) {
      if (l >= kEinsumEllipsisLabel) continue;
      R1_CHECK(count[l] > 0, ModelError) << "Einsum equation '" << equation << "': output label '"
                                         << static_cast<char>(l) << "' is not in any input";
      R1_CHECK(!seen[l]++, ModelError) << "Einsum equation '" << equation << "': output label '" << static_cast<char>(l)
                                       << "' repeats";
    }
  } else {
    for (int j = 0; j < spec.ellipsis_rank; ++j) spec.output.push_back(kEinsumEllipsisLabel + j);
    for (int l = 0; l < 128; ++l)
      if (count[l] == 1) spec.output.push_back(l);
  }
  return spec;
}

}  // namespace r1
