#include "r1/ir/printer.h"

#include <sstream>

namespace r1 {

namespace {
std::string typed(const Graph& g, const Value* v) {
  if (!v) return "%<none>";
  std::string s = "%" + v->name + ": " + dtype_name(v->dtype);
  s += v->has_shape ? shape_str(v->shape, &g.symbols()) : "[?]";
  return s;
}
}  // namespace

std::string print_graph(const Graph& g) {
  std::ostringstream os;
  os << "graph(";
  for (size_t i = 0; i < g.inputs().size(); ++i) os << (i ? ", " : "") << typed(g, g.inputs()[i]);
  os << ") {\n";
  size_t n_const = 0;
  for (auto& v : g.values()) n_const += v->is_constant();
  os << "  # " << n_const << " constants, " << g.nodes().size() << " nodes\n";
  for (auto& n : g.nodes()) {
    os << "  ";
    for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? ", " : "") << typed(g, n->outputs[i]);
    os << " = " << (n->domain.empty() ? "" : n->domain + "::") << n->op_type << "(";
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      os << (i ? ", " : "");
      os << (n->inputs[i] ? "%" + n->inputs[i]->name : "%<none>");
    }
    os << ")";
    if (!n->attrs.all().empty()) {
      os << " {";
      bool first = true;
      for (auto& kv : n->attrs.all()) {
        os << (first ? "" : ", ") << kv.first << "=" << kv.second.to_string();
        first = false;
      }
      os << "}";
    }
    os << "  # " << n->name << "\n";
  }
  os << "  return ";
  for (size_t i = 0; i < g.outputs().size(); ++i) os << (i ? ", " : "") << "%" << g.outputs()[i]->name;
  os << "\n}\n";
  return os.str();
}

}  // namespace r1
