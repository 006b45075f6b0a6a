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

namespace {
void print_into(std::ostringstream& os, const Graph& g, const std::string& pad);
}

std::string print_graph(const Graph& g) {
  std::ostringstream os;
  print_into(os, g, "");
  return os.str();
}

namespace {
// A subgraph prints after its node, indented, as "attr = graph(...) { ... }".
void print_into(std::ostringstream& os, const Graph& g, const std::string& pad) {
  os << "graph(";
  for (size_t i = 0; i < g.inputs().size(); ++i) os << (i ? ", " : "") << typed(g, g.inputs()[i]);
  os << ") {\n";
  size_t n_const = 0;
  for (auto& v : g.values()) n_const += v->is_constant();
  os << pad << "  # " << n_const << " constants, " << g.nodes().size() << " nodes\n";
  for (auto& n : g.nodes()) {
    os << pad << "  ";
    for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? ", " : "") << typed(g, n->outputs[i]);
    os << " = " << (n->domain.empty() ? "" : n->domain + "::") << n->op_type << "(";
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      os << (i ? ", " : "");
      os << (n->inputs[i] ? "%" + n->inputs[i]->name : "%<none>");
    }
    os << ")";
    bool first = true;
    for (auto& kv : n->attrs.all()) {
      if (kv.second.kind == Attribute::Kind::Graph) continue;  // printed below the node
      os << (first ? " {" : ", ") << kv.first << "=" << kv.second.to_string();
      first = false;
    }
    if (!first) os << "}";
    os << "  # " << n->name << "\n";
    for (auto& [attr, sub] : subgraphs_of(*n)) {
      os << pad << "    " << attr << " = ";
      print_into(os, *sub, pad + "    ");
    }
  }
  os << pad << "  return ";
  for (size_t i = 0; i < g.outputs().size(); ++i) os << (i ? ", " : "") << "%" << g.outputs()[i]->name;
  os << "\n" << pad << "}\n";
}
}  // namespace

}  // namespace r1
