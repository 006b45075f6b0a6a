// Schemas and shape inference of the rnn family: LSTM, GRU, RNN (ONNX opsets 7..22).
//
// Inputs  X [seq, batch, input] (layout 1: [batch, seq, input]), W [dirs, G*hidden, input],
//         R [dirs, G*hidden, hidden], B [dirs, 2*G*hidden], sequence_lens [batch],
//         initial_h [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]), LSTM also initial_c, P.
// Outputs Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]), Y_h, (LSTM) Y_c.
#include <algorithm>
#include <cctype>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

bool known_activation(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* kNames[] = {"sigmoid",         "tanh",       "relu", "hardsigmoid", "affine",  "leakyrelu",
                                 "thresholdedrelu", "scaledtanh", "elu",  "softsign",    "softplus"};
  for (const char* n : kNames)
    if (name == n) return true;
  return false;
}

// num_gates: 4 LSTM, 3 GRU, 1 RNN. num_acts: activations per direction.
void infer_recurrent(InferContext& ctx, int num_gates, int num_acts, bool lstm) {
  const AttributeMap& a = ctx.attrs();
  std::string dir = a.get_string("direction", "forward");
  R1_CHECK(dir == "forward" || dir == "reverse" || dir == "bidirectional", ModelError)
      << "direction '" << dir << "' is not supported (forward, reverse or bidirectional)";
  int64_t dirs = dir == "bidirectional" ? 2 : 1;
  int64_t layout = ctx.opset() >= 14 ? a.get_int("layout", 0) : 0;
  R1_CHECK(layout == 0 || layout == 1, ModelError) << "layout " << layout << " is not supported (0 or 1)";
  auto acts = a.get_strings("activations");
  for (const auto& s : acts) R1_CHECK(known_activation(s), ModelError) << "activation '" << s << "' is not supported";
  R1_CHECK(acts.empty() || static_cast<int64_t>(acts.size()) == num_acts ||
               static_cast<int64_t>(acts.size()) == num_acts * dirs,
           ModelError)
      << "activations has " << acts.size() << " entries; expected " << num_acts * dirs;
  if (lstm) {
    (void)a.get_int("input_forget", 0);
  }
  if (a.has("clip")) {
    float clip = a.get_float("clip", 0.f);
    R1_CHECK(clip > 0, ModelError) << "clip must be positive, got " << clip;
  }

  DType t = ctx.input_dtype(0);
  R1_CHECK(is_float(t), ModelError) << "X must be a float tensor, got " << dtype_name(t);
  const Shape& xs = ctx.input_shape(0);
  R1_CHECK(xs.size() == 3, InputError) << "X must have rank 3, got " << shape_str(xs);

  int64_t hidden = a.get_int("hidden_size", kUnknownDim);
  if (a.has("hidden_size")) {
    R1_CHECK(hidden > 0, ModelError) << "hidden_size must be positive";
  }
  if (!is_known(hidden) && ctx.input_has_shape(2)) {
    const Shape& rs = ctx.input_shape(2);
    if (rs.size() == 3) hidden = rs[2];
  }
  if (!is_known(hidden) && ctx.input_has_shape(1)) {
    const Shape& ws = ctx.input_shape(1);
    if (ws.size() == 3 && is_known(ws[1])) hidden = ws[1] / num_gates;
  }
  if (ctx.input_has_shape(1)) {
    const Shape& ws = ctx.input_shape(1);
    R1_CHECK(ws.size() == 3, InputError) << "W must have rank 3, got " << shape_str(ws);
    if (is_known(ws[0])) {
      R1_CHECK(ws[0] == dirs, InputError) << "W dim 0 is " << ws[0] << ", expected " << dirs;
    }
    if (is_known(ws[1]) && is_known(hidden)) {
      R1_CHECK(ws[1] == num_gates * hidden, InputError)
          << "W dim 1 is " << ws[1] << ", expected " << num_gates * hidden;
    }
    if (is_known(ws[2]) && is_known(xs[2])) {
      R1_CHECK(ws[2] == xs[2], InputError) << "W input size " << ws[2] << " != X input size " << xs[2];
    }
  }
  if (ctx.input_has_shape(2)) {
    const Shape& rs = ctx.input_shape(2);
    R1_CHECK(rs.size() == 3, InputError) << "R must have rank 3, got " << shape_str(rs);
    if (is_known(rs[1]) && is_known(hidden)) {
      R1_CHECK(rs[1] == num_gates * hidden, InputError)
          << "R dim 1 is " << rs[1] << ", expected " << num_gates * hidden;
    }
  }
  int64_t seq = layout ? xs[1] : xs[0];
  int64_t batch = layout ? xs[0] : xs[1];
  if (ctx.has_output(0)) {
    if (layout)
      ctx.set_output(0, t, {batch, seq, dirs, hidden});
    else
      ctx.set_output(0, t, {seq, dirs, batch, hidden});
  }
  Shape state = layout ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
  if (ctx.has_output(1)) ctx.set_output(1, t, state);
  if (lstm && ctx.has_output(2)) ctx.set_output(2, t, state);
}

OpSchema rnn_schema(const char* op, int max_in, int max_out, InferFn fn) {
  OpSchema s = heavy(schema(op, 3, max_in, std::move(fn), 0, max_out));
  s.since_opset = 7;
  return s;
}

}  // namespace

void register_rnn_ops(OpRegistry& reg) {
  reg.add(rnn_schema("LSTM", 8, 3, [](InferContext& c) { infer_recurrent(c, 4, 3, true); }));
  reg.add(rnn_schema("GRU", 6, 2, [](InferContext& c) { infer_recurrent(c, 3, 2, false); }));
  reg.add(rnn_schema("RNN", 6, 2, [](InferContext& c) { infer_recurrent(c, 1, 1, false); }));
}
}  // namespace r1
