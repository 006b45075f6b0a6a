#include "r1/ir/attribute.h"

#include <sstream>

namespace r1 {

namespace {
const char* kind_name(Attribute::Kind k) {
  static const char* names[] = {"int", "float", "string", "ints", "floats", "strings", "tensor", "graph"};
  return names[static_cast<int>(k)];
}
template <class T>
void join(std::ostream& os, const std::vector<T>& v) {
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
}
}  // namespace

std::string Attribute::to_string() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::Int:
      os << i;
      break;
    case Kind::Float:
      os << f;
      break;
    case Kind::String:
      os << '"' << s << '"';
      break;
    case Kind::Ints:
      join(os, ints);
      break;
    case Kind::Floats:
      join(os, floats);
      break;
    case Kind::Strings:
      join(os, strings);
      break;
    case Kind::Tensor:
      os << "tensor " << t.describe();
      break;
    case Kind::Graph:
      // The address: two nodes with different bodies never look alike to CSE (bodies are not compared).
      os << "graph@" << static_cast<const void*>(g.get());
      break;
  }
  return os.str();
}

const Attribute* AttributeMap::find(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

const Attribute& AttributeMap::typed(const std::string& name, Attribute::Kind kind) const {
  const Attribute& a = map_.at(name);
  // ONNX exporters sometimes write a single int where a float is expected; accept int->float.
  R1_CHECK(a.kind == kind || (kind == Attribute::Kind::Float && a.kind == Attribute::Kind::Int), ModelError)
      << "attribute '" << name << "' should be of type " << kind_name(kind) << " but is " << kind_name(a.kind);
  return a;
}

int64_t AttributeMap::get_int(const std::string& name, int64_t def) const {
  return has(name) ? typed(name, Attribute::Kind::Int).i : def;
}
float AttributeMap::get_float(const std::string& name, float def) const {
  if (!has(name)) return def;
  const Attribute& a = typed(name, Attribute::Kind::Float);
  return a.kind == Attribute::Kind::Int ? static_cast<float>(a.i) : a.f;
}
std::string AttributeMap::get_string(const std::string& name, const std::string& def) const {
  return has(name) ? typed(name, Attribute::Kind::String).s : def;
}
std::vector<int64_t> AttributeMap::get_ints(const std::string& name, std::vector<int64_t> def) const {
  return has(name) ? typed(name, Attribute::Kind::Ints).ints : def;
}
std::vector<float> AttributeMap::get_floats(const std::string& name, std::vector<float> def) const {
  return has(name) ? typed(name, Attribute::Kind::Floats).floats : def;
}
std::vector<std::string> AttributeMap::get_strings(const std::string& name, std::vector<std::string> def) const {
  return has(name) ? typed(name, Attribute::Kind::Strings).strings : def;
}
const std::shared_ptr<r1::Graph>& AttributeMap::get_graph(const std::string& name) const {
  static const std::shared_ptr<r1::Graph> none;
  return has(name) ? typed(name, Attribute::Kind::Graph).g : none;
}
const r1::Tensor* AttributeMap::get_tensor(const std::string& name) const {
  return has(name) ? &typed(name, Attribute::Kind::Tensor).t : nullptr;
}

}  // namespace r1
