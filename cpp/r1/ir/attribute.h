// Node attributes, typed as in ONNX (int, float, string, lists, tensor, graph).
//
//   int64_t axis = node.attrs.get_int("axis", -1);
//   std::vector<int64_t> perm = node.attrs.get_ints("perm");          // {} when absent
//   float eps = node.attrs.require_float("epsilon", node);            // ModelError naming the node
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "r1/core/tensor.h"

namespace r1 {

class Graph;

struct Attribute {
  enum class Kind : uint8_t {
    Int = 0,
    Float = 1,
    String = 2,
    Ints = 3,
    Floats = 4,
    Strings = 5,
    Tensor = 6,
    Graph = 7
  };
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  r1::Tensor t;
  // A subgraph (If's branches, Loop's and Scan's body). It reads outer values only through graph inputs the
  // node feeds explicitly (ir/ops/control_flow.cc says which input feeds which), so the outer graph's
  // dataflow, lifetimes and passes see every value a subgraph reads. Graph::clone() copies it deeply.
  std::shared_ptr<r1::Graph> g;

  static Attribute make_int(int64_t v) {
    Attribute a;
    a.kind = Kind::Int;
    a.i = v;
    return a;
  }
  static Attribute make_float(float v) {
    Attribute a;
    a.kind = Kind::Float;
    a.f = v;
    return a;
  }
  static Attribute make_string(std::string v) {
    Attribute a;
    a.kind = Kind::String;
    a.s = std::move(v);
    return a;
  }
  static Attribute make_ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Kind::Ints;
    a.ints = std::move(v);
    return a;
  }
  static Attribute make_floats(std::vector<float> v) {
    Attribute a;
    a.kind = Kind::Floats;
    a.floats = std::move(v);
    return a;
  }
  static Attribute make_strings(std::vector<std::string> v) {
    Attribute a;
    a.kind = Kind::Strings;
    a.strings = std::move(v);
    return a;
  }
  static Attribute make_tensor(r1::Tensor v) {
    Attribute a;
    a.kind = Kind::Tensor;
    a.t = std::move(v);
    return a;
  }
  static Attribute make_graph(std::shared_ptr<r1::Graph> v) {
    Attribute a;
    a.kind = Kind::Graph;
    a.g = std::move(v);
    return a;
  }
  std::string to_string() const;
};

class AttributeMap {
 public:
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, Attribute>& all() const { return map_; }
  const Attribute* find(const std::string& name) const;

  // Typed getters with defaults. A present attribute of the wrong kind throws ModelError.
  int64_t get_int(const std::string& name, int64_t def) const;
  float get_float(const std::string& name, float def) const;
  std::string get_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> get_strings(const std::string& name, std::vector<std::string> def = {}) const;
  const r1::Tensor* get_tensor(const std::string& name) const;
  // The subgraph attribute `name`, or nullptr when absent.
  const std::shared_ptr<r1::Graph>& get_graph(const std::string& name) const;

 private:
  const Attribute& typed(const std::string& name, Attribute::Kind kind) const;
  std::map<std::string, Attribute> map_;
};

}  // namespace r1
