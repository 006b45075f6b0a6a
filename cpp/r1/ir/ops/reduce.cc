// Schemas and shape inference of the reduce family: ReduceSum, ReduceMean, ReduceMax, ReduceMin,
// ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, ArgMax and ArgMin.
#include <algorithm>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// Opset from which a Reduce op takes its axes as an optional input instead of an attribute.
int axes_input_opset(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

void infer_reduce(InferContext& ctx) {
  const std::string& op = ctx.node().op_type;
  DType t = ctx.input_dtype(0);
  if (op != "ReduceMax" && op != "ReduceMin")
    R1_CHECK(t != DType::Bool, ModelError) << op << " of bool tensors is not supported";
  int64_t keepdims = ctx.attrs().get_int("keepdims", 1);
  bool from_input = ctx.opset() >= axes_input_opset(op);
  int64_t noop = from_input ? ctx.attrs().get_int("noop_with_empty_axes", 0) : 0;
  std::vector<int64_t> axes;
  if (from_input) {
    R1_CHECK(!ctx.attrs().has("axes"), ModelError)
        << op << " takes axes as an input from opset " << axes_input_opset(op) << ", not as an attribute";
    if (ctx.has_input(1)) {
      if (!ctx.input_ints(1, &axes)) {
        // Axes only known at run time.
        if (keepdims) {
          const Shape& s = ctx.input_shape(0);
          Shape out(s.size(), kUnknownDim);
          for (size_t i = 0; i < s.size(); ++i)
            if (s[i] == 1) out[i] = 1;
          ctx.set_output(0, t, out);
        } else {
          ctx.set_output_dtype(0, t);
        }
        return;
      }
    }
  } else {
    R1_CHECK(ctx.num_inputs() < 2 || !ctx.has_input(1), ModelError)
        << op << " takes axes as an attribute before opset " << axes_input_opset(op);
    axes = ctx.attrs().get_ints("axes");
  }
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  if (axes.empty() && noop) {
    ctx.set_output(0, t, s);
    return;
  }
  std::vector<bool> red(rank, axes.empty());
  for (int64_t a : axes) red[normalize_axis(a, rank, "axes")] = true;
  Shape out;
  for (int i = 0; i < rank; ++i) {
    if (!red[i])
      out.push_back(s[i]);
    else if (keepdims)
      out.push_back(1);
  }
  ctx.set_output(0, t, out);
}

void infer_arg(InferContext& ctx) {
  R1_CHECK(ctx.input_dtype(0) != DType::Bool, ModelError) << ctx.node().op_type << " of bool is not supported";
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int axis = normalize_axis(ctx.attrs().get_int("axis", 0), std::max(rank, 1), "axis");
  int64_t keepdims = ctx.attrs().get_int("keepdims", 1);
  Shape out;
  for (int i = 0; i < rank; ++i) {
    if (i != axis)
      out.push_back(s[i]);
    else if (keepdims)
      out.push_back(1);
  }
  ctx.set_output(0, DType::Int64, out);
}

}  // namespace

void register_reduce_ops(OpRegistry& reg) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
    reg.add(schema(op, 1, 2, infer_reduce));
  reg.add(schema("ArgMax", 1, 1, infer_arg));
  reg.add(schema("ArgMin", 1, 1, infer_arg));
}
}  // namespace r1
