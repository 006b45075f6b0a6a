// Common-subexpression elimination: two nodes with the same op, attributes and inputs compute the
// same outputs, so the second is replaced by the first. Small constants with equal contents are
// merged first so their readers compare equal (exporters repeat axes and shape constants).
#include <cstring>
#include <map>
#include <unordered_map>

#include "r1/ir/op_registry.h"
#include "r1/passes/pass.h"
#include "r1/passes/rewrite.h"

namespace r1 {
namespace {

constexpr int64_t kMaxMergedConstantBytes = 4096;  // larger weights are never duplicates in practice

std::string constant_key(const Tensor& t) {
  std::string k = t.describe();
  k.push_back('|');
  k.append(static_cast<const char*>(t.raw()), t.nbytes());
  return k;
}

std::string node_key(const Node& n) {
  std::string k = n.domain + "::" + n.op_type + "/" + std::to_string(n.opset) + "(";
  for (const Value* v : n.inputs) k += (v ? std::to_string(v->id) : std::string("-")) + ",";
  k += ")";
  for (auto& kv : n.attrs.all()) k += kv.first + "=" + kv.second.to_string() + ";";
  k += "->" + std::to_string(n.outputs.size());
  for (const Value* o : n.outputs) k += o ? "1" : "0";
  return k;
}

class Cse : public Pass {
 public:
  const char* name() const override { return "cse"; }
  bool run(Graph& g, const PassOptions&) override {
    bool changed = false;
    std::unordered_map<std::string, Value*> constants;
    std::vector<Value*> values;
    for (auto& v : g.values()) values.push_back(v.get());
    for (Value* v : values) {
      if (!v->is_constant() || v->is_graph_output || v->constant.nbytes() > kMaxMergedConstantBytes) continue;
      auto ins = constants.emplace(constant_key(v->constant), v);
      if (ins.second || v->consumers.empty()) continue;
      g.replace_all_uses(v, ins.first->second);
      changed = true;
    }
    std::unordered_map<std::string, Node*> seen;
    for (Node* n : passes::node_list(g)) {
      if (n->outputs.empty() || is_random(*n)) continue;  // two draws are two values
      auto ins = seen.emplace(node_key(*n), n);
      if (ins.second) continue;
      Node* first = ins.first->second;
      for (size_t i = 0; i < n->outputs.size(); ++i) {
        Value* o = n->outputs[i];
        if (!o || (o->consumers.empty() && !o->is_graph_output)) continue;
        // Two graph outputs stay two values (each keeps its name).
        if (o->is_graph_output && first->outputs[i]->is_graph_output) continue;
        g.replace_all_uses(o, first->outputs[i]);
        changed = true;
      }
    }
    return changed;
  }
};
}  // namespace
std::unique_ptr<Pass> make_cse() { return std::make_unique<Cse>(); }
}  // namespace r1
