// CPU kernels of the string ops. Splitting follows Python's str.split (a delimiter: every occurrence
// splits, empty pieces kept; none or "": runs of whitespace, no empty pieces); RegexFullMatch uses
// std::regex (ECMAScript syntax, which covers the RE2 patterns of the ONNX tests); StringNormalizer
// changes ASCII case.
#include <algorithm>
#include <cctype>
#include <regex>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void string_concat(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  BroadcastMap m(y.shape(), {a.shape(), b.shape()});
  std::vector<int64_t> offs(2);
  const std::string* pa = a.data<std::string>();
  const std::string* pb = b.data<std::string>();
  std::string* py = y.data<std::string>();
  for (int64_t r = 0; r < m.rows(); ++r) {
    m.row_offsets(r, offs.data());
    for (int64_t j = 0; j < m.row_len(); ++j)
      py[r * m.row_len() + j] = pa[offs[0] + j * m.steps()[0]] + pb[offs[1] + j * m.steps()[1]];
  }
}

std::vector<std::string> split(const std::string& s, const std::string& delim, int64_t maxsplit) {
  std::vector<std::string> out;
  if (delim.empty()) {  // whitespace runs
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(s.substr(i));  // the rest as it is (trailing whitespace kept, as Python's split does)
        break;
      }
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  size_t start = 0;
  for (;;) {
    size_t at = s.find(delim, start);
    if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + delim.size();
  }
}

void string_split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::string delim = ctx.attrs().get_string("delimiter", "");
  int64_t maxsplit = ctx.attrs().has("maxsplit") ? ctx.attrs().get_int("maxsplit", 0) : -1;
  const std::string* px = x.data<std::string>();
  std::vector<std::vector<std::string>> parts(static_cast<size_t>(x.numel()));
  int64_t most = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    parts[i] = split(px[i], delim, maxsplit);
    most = std::max<int64_t>(most, static_cast<int64_t>(parts[i].size()));
  }
  Shape ys = x.shape();
  ys.push_back(most);
  Tensor& y = ctx.allocate_output(0, ys, DType::String);
  Tensor& z = ctx.allocate_output(1, x.shape(), DType::Int64);
  std::string* py = y.data<std::string>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    z.data<int64_t>()[i] = static_cast<int64_t>(parts[i].size());
    for (size_t k = 0; k < parts[i].size(); ++k) py[i * most + static_cast<int64_t>(k)] = parts[i][k];
  }
}

void regex_full_match(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::regex re(ctx.attrs().get_string("pattern", ""));
  bool* py = ctx.output(0).data<bool>();
  const std::string* px = x.data<std::string>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = std::regex_match(px[i], re);
}

std::string change_case(std::string s, const std::string& action) {
  if (action == "LOWER")
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (action == "UPPER")
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// Drops the stopwords (case-insensitively unless is_case_sensitive), then changes case. When every
// string goes, the output holds one empty string, as onnxruntime gives.
void string_normalizer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::string action = ctx.attrs().get_string("case_change_action", "NONE");
  bool sensitive = ctx.attrs().get_int("is_case_sensitive", 0) != 0;
  std::vector<std::string> stop = ctx.attrs().get_strings("stopwords");
  if (!sensitive)
    for (auto& w : stop) w = change_case(w, "LOWER");
  const std::string* px = x.data<std::string>();
  std::vector<std::string> kept;
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::string key = sensitive ? px[i] : change_case(px[i], "LOWER");
    if (std::find(stop.begin(), stop.end(), key) != stop.end()) continue;
    kept.push_back(change_case(px[i], action));
  }
  if (kept.empty()) kept.emplace_back();
  Shape ys = x.shape();
  ys.back() = static_cast<int64_t>(kept.size());
  Tensor& y = ctx.allocate_output(0, ys, DType::String);
  std::copy(kept.begin(), kept.end(), y.data<std::string>());
}

}  // namespace

void register_strings_kernels(KernelTable& t) {
  t.add("StringConcat", string_concat);
  t.add("StringSplit", string_split);
  t.add("RegexFullMatch", regex_full_match);
  t.add("StringNormalizer", string_normalizer);
}
}  // namespace r1::cpu
