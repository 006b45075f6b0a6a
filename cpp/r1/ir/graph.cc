#include "r1/ir/graph.h"

#include <algorithm>
#include <memory>
#include <unordered_set>

namespace r1 {

std::string Node::label() const { return "'" + name + "' (" + op_type + ")"; }

const char* value_kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::Sequence:
      return "sequence";
    case ValueKind::Optional:
      return "optional";
    case ValueKind::OptionalSequence:
      return "optional sequence";
    default:
      return "tensor";
  }
}

std::vector<std::pair<std::string, Graph*>> subgraphs_of(const Node& n) {
  std::vector<std::pair<std::string, Graph*>> out;
  for (auto& kv : n.attrs.all())
    if (kv.second.kind == Attribute::Kind::Graph && kv.second.g) out.emplace_back(kv.first, kv.second.g.get());
  return out;
}

void Graph::remove_input(Value* v) {
  R1_CHECK(v->is_graph_input && v->consumers.empty(), InternalError)
      << "remove_input: '" << v->name << "' is not an unread graph input";
  inputs_.erase(std::remove(inputs_.begin(), inputs_.end(), v), inputs_.end());
  v->is_graph_input = false;
}

Value* Graph::new_value(const std::string& name) {
  R1_CHECK(!name.empty(), ModelError) << "a tensor with an empty name";
  R1_CHECK(!by_name_.count(name), ModelError) << "tensor '" << name << "' is defined twice";
  auto v = std::make_unique<Value>();
  v->id = static_cast<int>(values_.size());
  v->name = name;
  Value* p = v.get();
  values_.push_back(std::move(v));
  by_name_[name] = p;
  return p;
}

Value* Graph::add_input(const std::string& name, DType dtype, const Shape& shape) {
  Value* v = new_value(name);
  v->dtype = dtype;
  v->shape = shape;
  v->has_shape = true;
  v->is_graph_input = true;
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_constant(const std::string& name, Tensor value) {
  Value* v = new_value(name);
  v->dtype = value.dtype();
  v->shape = value.shape();
  v->has_shape = true;
  v->constant = std::move(value);
  return v;
}

Value* Graph::add_value(const std::string& name) { return new_value(name); }

Node* Graph::add_node(const std::string& op_type, const std::string& domain, const std::string& name,
                      const std::vector<Value*>& inputs, const std::vector<std::string>& output_names,
                      AttributeMap attrs, int opset) {
  auto n = std::make_unique<Node>();
  n->id = static_cast<int>(nodes_.size());
  n->name = name.empty() ? op_type + "_" + std::to_string(n->id) : name;
  n->op_type = op_type;
  n->domain = domain;
  n->opset = opset;
  n->inputs = inputs;
  n->attrs = std::move(attrs);
  Node* p = n.get();
  for (Value* in : inputs)
    if (in) in->consumers.push_back(p);
  for (const auto& out : output_names) {
    if (out.empty()) {
      n->outputs.push_back(nullptr);
      continue;
    }
    Value* v = new_value(out);
    v->producer = p;
    n->outputs.push_back(v);
  }
  nodes_.push_back(std::move(n));
  return p;
}

void Graph::mark_output(Value* v) {
  v->is_graph_output = true;
  outputs_.push_back(v);
}

Value* Graph::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::get(const std::string& name) const {
  Value* v = find(name);
  R1_CHECK(v != nullptr, ModelError) << "tensor '" << name << "' is used but never defined";
  return v;
}

int64_t Graph::symbol(const std::string& name) {
  auto it = symbol_ids_.find(name);
  if (it != symbol_ids_.end()) return sym_dim(it->second);
  int k = static_cast<int>(symbols_.size());
  symbols_.push_back(name);
  symbol_ids_[name] = k;
  return sym_dim(k);
}

int Graph::opset(const std::string& domain) const {
  auto it = opsets_.find(domain);
  return it == opsets_.end() ? 0 : it->second;
}

namespace {
// True when every node's producers come before it in `nodes`.
bool in_topological_order(const std::vector<std::unique_ptr<Node>>& nodes) {
  std::unordered_set<const Node*> seen;
  seen.reserve(nodes.size());
  for (auto& n : nodes) {
    for (Value* in : n->inputs)
      if (in && in->producer && !seen.count(in->producer)) return false;
    seen.insert(n.get());
  }
  return true;
}
}  // namespace

void Graph::reorder(const std::vector<Node*>& order) {
  R1_CHECK(order.size() == nodes_.size(), InternalError)
      << "reorder: " << order.size() << " nodes for a graph of " << nodes_.size();
  std::unordered_map<Node*, std::unique_ptr<Node>*> slot;
  for (auto& n : nodes_) slot[n.get()] = &n;
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes_.size());
  for (Node* n : order) {
    auto it = slot.find(n);
    R1_CHECK(it != slot.end() && *it->second, InternalError) << "reorder: a node is missing or repeated";
    sorted.push_back(std::move(*it->second));
  }
  const bool ok = in_topological_order(sorted);
  // Put the nodes back either way: a failed reorder leaves the graph as it was.
  if (!ok) {
    for (auto& n : sorted) *slot[n.get()] = std::move(n);
    R1_THROW(InternalError) << "reorder: the order is not topological";
  }
  nodes_ = std::move(sorted);
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->id = static_cast<int>(i);
}

void Graph::topological_sort() {
  if (in_topological_order(nodes_)) {
    for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->id = static_cast<int>(i);
    return;
  }
  // Kahn's algorithm, stable with respect to the current order.
  std::unordered_map<const Node*, int> pending;
  for (auto& n : nodes_) {
    int deps = 0;
    for (Value* in : n->inputs)
      if (in && in->producer) ++deps;
    pending[n.get()] = deps;
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes_.size());
  std::vector<Node*> ready;
  for (auto& n : nodes_)
    if (pending[n.get()] == 0) ready.push_back(n.get());
  std::unordered_map<Node*, std::unique_ptr<Node>*> slot;
  for (auto& n : nodes_) slot[n.get()] = &n;
  size_t head = 0;
  while (head < ready.size()) {
    Node* n = ready[head++];
    sorted.push_back(std::move(*slot[n]));
    for (Value* out : n->outputs) {
      if (!out) continue;
      for (Node* c : out->consumers) {
        // A node may consume the same value twice; count each edge.
        if (--pending[c] == 0) ready.push_back(c);
      }
    }
  }
  if (sorted.size() != nodes_.size()) {
    for (auto& n : nodes_)
      if (n) R1_THROW(ModelError) << "the graph has a cycle through node " << n->label();
  }
  nodes_ = std::move(sorted);
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->id = static_cast<int>(i);
}

void Graph::remove_dead() {
  std::unordered_set<const Node*> live;
  std::vector<const Value*> stack(outputs_.begin(), outputs_.end());
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (v->producer && live.insert(v->producer).second)
      for (Value* in : v->producer->inputs)
        if (in) stack.push_back(in);
  }
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& n : nodes_) {
    if (live.count(n.get())) {
      kept.push_back(std::move(n));
      continue;
    }
    for (Value* in : n->inputs)
      if (in)
        in->consumers.erase(std::remove(in->consumers.begin(), in->consumers.end(), n.get()), in->consumers.end());
    for (Value* out : n->outputs)
      if (out) out->producer = nullptr;
  }
  nodes_ = std::move(kept);
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->id = static_cast<int>(i);
  // Constants nobody reads are dropped so their memory is released.
  std::vector<std::unique_ptr<Value>> vals;
  for (auto& v : values_) {
    bool used = v->is_graph_input || v->is_graph_output || v->producer || !v->consumers.empty();
    if (used)
      vals.push_back(std::move(v));
    else
      by_name_.erase(v->name);
  }
  values_ = std::move(vals);
  for (size_t i = 0; i < values_.size(); ++i) values_[i]->id = static_cast<int>(i);
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->symbols_ = symbols_;
  g->symbol_ids_ = symbol_ids_;
  g->opsets_ = opsets_;
  g->backings_ = backings_;
  g->subgraph_ = subgraph_;
  std::unordered_map<const Value*, Value*> vmap;
  for (auto& v : values_) {
    Value* c = g->new_value(v->name);
    c->dtype = v->dtype;
    c->shape = v->shape;
    c->has_shape = v->has_shape;
    c->kind = v->kind;
    c->constant = v->constant;
    c->is_graph_input = v->is_graph_input;
    c->is_graph_output = v->is_graph_output;
    vmap[v.get()] = c;
  }
  for (auto& n : nodes_) {
    auto c = std::make_unique<Node>();
    c->id = n->id;
    c->name = n->name;
    c->op_type = n->op_type;
    c->domain = n->domain;
    c->opset = n->opset;
    c->attrs = n->attrs;
    // A clone is rewritten on its own (passes, precision): its subgraphs must not be shared with this one.
    for (auto& kv : n->attrs.all())
      if (kv.second.kind == Attribute::Kind::Graph && kv.second.g)
        c->attrs.set(kv.first, Attribute::make_graph(std::shared_ptr<Graph>(kv.second.g->clone())));
    c->schema = n->schema;
    for (Value* in : n->inputs) {
      Value* m = in ? vmap.at(in) : nullptr;
      c->inputs.push_back(m);
      if (m) m->consumers.push_back(c.get());
    }
    for (Value* out : n->outputs) {
      Value* m = out ? vmap.at(out) : nullptr;
      c->outputs.push_back(m);
      if (m) m->producer = c.get();
    }
    g->nodes_.push_back(std::move(c));
  }
  for (Value* v : inputs_) g->inputs_.push_back(vmap.at(v));
  for (Value* v : outputs_) g->outputs_.push_back(vmap.at(v));
  return g;
}

void Graph::set_input(Node* n, size_t i, Value* v) {
  Value* old = n->inputs[i];
  if (old == v) return;
  if (old) {
    auto it = std::find(old->consumers.begin(), old->consumers.end(), n);
    if (it != old->consumers.end()) old->consumers.erase(it);
  }
  n->inputs[i] = v;
  if (v) v->consumers.push_back(n);
}

std::string Graph::unique_name(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (int k = 1;; ++k) {
    std::string s = base + "_" + std::to_string(k);
    if (!by_name_.count(s)) return s;
  }
}

void Graph::replace_all_uses(Value* from, Value* to) {
  R1_CHECK(from != to, InternalError) << "replace_all_uses of '" << from->name << "' with itself";
  std::vector<Node*> readers = from->consumers;
  for (Node* c : readers)
    for (size_t i = 0; i < c->inputs.size(); ++i)
      if (c->inputs[i] == from) set_input(c, i, to);
  if (!from->is_graph_output) return;
  if (to->is_graph_input || to->is_graph_output || to->is_constant() || !to->producer) {
    // `to` cannot take the output's name: keep the output value and make it a copy of `to`.
    Node* keep = from->producer;
    if (keep) {
      for (size_t i = 0; i < keep->outputs.size(); ++i)
        if (keep->outputs[i] == from) keep->outputs[i] = nullptr;
    }
    auto n = std::make_unique<Node>();
    n->name = unique_name(from->name + "_identity");
    n->op_type = "Identity";
    n->opset = opset("");
    n->inputs = {to};
    n->outputs = {from};
    to->consumers.push_back(n.get());
    from->producer = n.get();
    nodes_.push_back(std::move(n));
    return;
  }
  // Swap names so the graph keeps its output names, and move the output flag.
  std::string out_name = from->name, tmp = unique_name(from->name + "_replaced");
  by_name_.erase(out_name);
  by_name_.erase(to->name);
  from->name = tmp;
  by_name_[tmp] = from;
  to->name = out_name;
  by_name_[out_name] = to;
  for (auto& o : outputs_)
    if (o == from) o = to;
  from->is_graph_output = false;
  to->is_graph_output = true;
}

}  // namespace r1
