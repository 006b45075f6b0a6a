#include <pybind11/stl.h>

#include "bind.h"
#include "numpy_bridge.h"
#include "r1/ir/builder.h"
#include "r1/ir/op_registry.h"
#include "r1/ir/printer.h"

namespace r1::bindings {

namespace {

py::list value_infos(const Graph& g, const std::vector<Value*>& vals) {
  py::list out;
  for (const Value* v : vals) {
    py::list dims;
    for (int64_t d : v->shape) {
      if (is_known(d))
        dims.append(d);
      else if (is_sym_dim(d))
        dims.append(g.symbols()[sym_index(d)]);
      else
        dims.append(py::none());
    }
    out.append(py::make_tuple(v->name, dtype_name(v->dtype), v->has_shape ? py::object(py::tuple(dims)) : py::none()));
  }
  return out;
}

}  // namespace

// Attributes arrive from Python as (kind, value) pairs, already normalised by the importer.
Attribute to_attribute(const std::string& name, const py::tuple& kv) {
  R1_CHECK(kv.size() == 2, ModelError) << "attribute '" << name << "' must be a (kind, value) pair";
  std::string kind = kv[0].cast<std::string>();
  py::handle v = kv[1];
  if (kind == "int") return Attribute::make_int(v.cast<int64_t>());
  if (kind == "float") return Attribute::make_float(v.cast<float>());
  if (kind == "string") return Attribute::make_string(v.cast<std::string>());
  if (kind == "ints") return Attribute::make_ints(v.cast<std::vector<int64_t>>());
  if (kind == "floats") return Attribute::make_floats(v.cast<std::vector<float>>());
  if (kind == "strings") return Attribute::make_strings(v.cast<std::vector<std::string>>());
  if (kind == "tensor") return Attribute::make_tensor(py_bridge::tensor_from_array(v.cast<py::array>()));
  if (kind == "graph") return Attribute::make_graph(v.cast<std::shared_ptr<Graph>>());  // finish_subgraph()'s
  R1_THROW(ModelError) << "attribute '" << name << "' has unsupported kind '" << kind << "'";
}

void bind_graph(py::module_& m) {
  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def("__str__", [](const Graph& g) { return print_graph(g); })
      .def_property_readonly("inputs", [](const Graph& g) { return value_infos(g, g.inputs()); })
      .def_property_readonly("outputs", [](const Graph& g) { return value_infos(g, g.outputs()); })
      // "tensor", "sequence", "optional" or "optional sequence" per input / output, in order.
      .def_property_readonly("input_kinds",
                             [](const Graph& g) {
                               std::vector<std::string> k;
                               for (const Value* v : g.inputs()) k.push_back(value_kind_name(v->kind));
                               return k;
                             })
      .def_property_readonly("output_kinds",
                             [](const Graph& g) {
                               std::vector<std::string> k;
                               for (const Value* v : g.outputs()) k.push_back(value_kind_name(v->kind));
                               return k;
                             })
      .def("clone", [](const Graph& g) { return std::shared_ptr<Graph>(g.clone()); })
      // Mutations for tools working on a clone (r1.quantize's calibration): expose an intermediate value as
      // one more graph output; set one attribute of a node, given as a (kind, value) pair like the importer's.
      .def("add_output",
           [](Graph& g, const std::string& value) {
             Value* v = g.get(value);
             for (const Value* o : g.outputs())
               if (o == v) return;
             g.mark_output(v);
           })
      .def("set_node_attr",
           [](Graph& g, const std::string& node, const std::string& key, const py::tuple& kv) {
             for (const auto& n : g.nodes())
               if (n->name == node) {
                 n->attrs.set(key, to_attribute(key, kv));
                 return;
               }
             R1_THROW(ModelError) << "no node named '" << node << "' in the graph";
           })
      // A constant value (a weight) as an array, and its replacement by one of the same dtype and shape
      // (r1.sparsify prunes weights in place on a clone).
      .def("constant",
           [](const Graph& g, const std::string& value) {
             const Value* v = g.get(value);
             R1_CHECK(v->is_constant(), ModelError) << "value '" << value << "' is not a constant";
             return py_bridge::array_from_tensor(v->constant);
           })
      .def("set_constant",
           [](Graph& g, const std::string& value, py::array a) {
             Value* v = g.get(value);
             R1_CHECK(v->is_constant(), ModelError) << "value '" << value << "' is not a constant";
             Tensor t = py_bridge::tensor_from_array(py::array::ensure(a, py::array::c_style)).clone();
             R1_CHECK(t.dtype() == v->constant.dtype() && t.shape() == v->constant.shape(), InputError)
                 << "set_constant: '" << value << "' is " << v->constant.describe() << ", got " << t.describe();
             v->constant = std::move(t);
           })
      .def_property_readonly("num_nodes", [](const Graph& g) { return g.nodes().size(); })
      // Bytes of the constants nodes read (weights as stored: packed, bf16 or int8 blobs count as they are).
      .def_property_readonly("constant_bytes",
                             [](const Graph& g) {
                               uint64_t bytes = 0;
                               for (const auto& v : g.values())
                                 if (v->is_constant() && !v->consumers.empty()) bytes += v->constant.nbytes();
                               return bytes;
                             })
      // The top-level nodes in order, as dicts (for tools that report per layer: r1.quantize):
      // name, op, domain, inputs / outputs (value names, "" for an absent optional input), constant
      // (per input: a constant value), float_elems (per input: values of a float constant, else 0), precision,
      // activation and trans_b (attributes of fused ops, or "" / False).
      .def("nodes",
           [](const Graph& g) {
             py::list out;
             for (const auto& n : g.nodes()) {
               py::list ins, outs, constant, table;
               for (const Value* v : n->inputs) {
                 ins.append(v ? v->name : std::string());
                 constant.append(v && v->is_constant());
                 // values of a float constant (0 otherwise): how big a table or weight is
                 table.append(v && v->is_constant() && is_float(v->constant.dtype()) ? v->constant.numel() : 0);
               }
               for (const Value* v : n->outputs) outs.append(v ? v->name : std::string());
               out.append(py::dict(py::arg("name") = n->name, py::arg("op") = n->op_type, py::arg("domain") = n->domain,
                                   py::arg("inputs") = ins, py::arg("outputs") = outs, py::arg("constant") = constant,
                                   py::arg("float_elems") = table,
                                   py::arg("precision") = n->attrs.get_string("precision", ""),
                                   py::arg("activation") = n->attrs.get_string("activation", ""),
                                   py::arg("trans_b") = n->attrs.get_int("trans_b", 0) != 0));
             }
             return out;
           })
      .def("op_types",
           [](const Graph& g) {
             std::vector<std::string> ops;
             for (auto& n : g.nodes()) ops.push_back(n->op_type);
             return ops;
           })
      .def("opsets", [](const Graph& g) { return std::map<std::string, int>(g.opsets().begin(), g.opsets().end()); });

  py::class_<GraphBuilder>(m, "GraphBuilder")
      .def(py::init<>())
      .def("set_opset", &GraphBuilder::set_opset)
      .def("add_input",
           [](GraphBuilder& b, const std::string& name, const std::string& dtype, const py::list& dims) {
             std::vector<DimSpec> ds;
             for (py::handle d : dims) {
               DimSpec s;
               if (py::isinstance<py::str>(d))
                 s.symbol = d.cast<std::string>();
               else if (!d.is_none())
                 s.value = d.cast<int64_t>();
               ds.push_back(s);
             }
             b.add_input(name, dtype_from_name(dtype), ds);
           })
      .def("add_initializer", [](GraphBuilder& b, const std::string& name,
                                 py::array a) { b.add_initializer(name, py_bridge::tensor_from_array(a)); })
      .def("add_node",
           [](GraphBuilder& b, const std::string& op, const std::string& domain, const std::string& name,
              const std::vector<std::string>& ins, const std::vector<std::string>& outs, const py::dict& attrs) {
             AttributeMap am;
             for (auto kv : attrs) {
               std::string k = kv.first.cast<std::string>();
               am.set(k, to_attribute(k, kv.second.cast<py::tuple>()));
             }
             b.add_node(op, domain, name, ins, outs, std::move(am));
           })
      .def("add_untyped_input", &GraphBuilder::add_untyped_input)
      .def("add_value_input",
           [](GraphBuilder& b, const std::string& name, const std::string& dtype, const std::string& kind) {
             ValueKind k = kind == "sequence"            ? ValueKind::Sequence
                           : kind == "optional"          ? ValueKind::Optional
                           : kind == "optional sequence" ? ValueKind::OptionalSequence
                                                         : ValueKind::Tensor;
             b.add_value_input(name, dtype_from_name(dtype), k);
           })
      .def("add_output", &GraphBuilder::add_output)
      .def("finish", [](GraphBuilder& b) { return std::shared_ptr<Graph>(b.finish()); })
      .def("finish_subgraph", [](GraphBuilder& b) { return std::shared_ptr<Graph>(b.finish_subgraph()); });

  m.def("supported_ops", [] { return OpRegistry::instance().op_names(); });
}

}  // namespace r1::bindings
