// Schemas and shape inference of the reduce family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax,
// the normalizations (Layer, Batch, Instance, Group, Lp, MeanVariance) and TopK.
#include <algorithm>
#include <string>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

// Opset from which a Reduce op takes its axes as an optional input instead of an attribute.
int axes_input_opset(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

void check_float(const InferContext& ctx, size_t i, const char* what) {
  DType t = ctx.input_dtype(i);
  R1_CHECK(is_float(t), ModelError) << what << " of dtype " << dtype_name(t)
                                    << " is not supported (needs float32, float16 or bfloat16)";
}

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

void infer_softmax(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int64_t def = ctx.opset() >= 13 ? -1 : 1;
  int64_t axis = ctx.attrs().get_int("axis", def);
  if (ctx.opset() >= 13) {
    normalize_axis(axis, std::max(rank, 1), "axis");
  } else {
    R1_CHECK(axis >= -rank && axis <= std::max(rank, 1), InputError)
        << "axis " << axis << " out of range for rank " << rank;
  }
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_layernorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  ctx.set_output(0, ctx.input_dtype(0), s);
  Shape st(s.begin(), s.begin() + axis);
  st.resize(rank, 1);
  if (ctx.has_output(1)) ctx.set_output(1, DType::Float32, st);
  if (ctx.has_output(2)) ctx.set_output(2, DType::Float32, st);
}

void infer_batchnorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  if (ctx.opset() >= 14)
    R1_CHECK(ctx.attrs().get_int("training_mode", 0) == 0, ModelError)
        << "BatchNormalization training_mode=1 is not supported (inference only)";
  if (ctx.opset() < 9)
    R1_CHECK(ctx.attrs().get_int("spatial", 1) == 1, ModelError) << "BatchNormalization spatial=0 is not supported";
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    R1_CHECK(!ctx.has_output(i), ModelError)
        << "BatchNormalization training outputs (running mean/var) are not supported (inference only)";
  const Shape& s = ctx.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << "BatchNormalization needs an input of rank >= 2, got rank " << s.size();
  for (size_t i = 1; i < 5; ++i) check_float(ctx, i, "BatchNormalization parameter");
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_norm_nc(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  R1_CHECK(s.size() >= 2, InputError) << ctx.node().op_type << " needs an input of rank >= 2, got rank " << s.size();
  for (size_t i = 1; i < 3; ++i) check_float(ctx, i, "scale/bias");
  if (ctx.node().op_type == "GroupNormalization") {
    int64_t g = ctx.attrs().get_int("num_groups", 0);
    R1_CHECK(g > 0, ModelError) << "GroupNormalization needs a positive num_groups attribute";
    if (is_known(s[1]))
      R1_CHECK(s[1] % g == 0, InputError) << "channels " << s[1] << " not divisible by num_groups " << g;
  }
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_lpnorm(InferContext& ctx) {
  check_float(ctx, 0, "input");
  int64_t p = ctx.attrs().get_int("p", 2);
  R1_CHECK(p == 1 || p == 2, ModelError) << "LpNormalization p=" << p << " is not supported (1 or 2)";
  const Shape& s = ctx.input_shape(0);
  normalize_axis(ctx.attrs().get_int("axis", -1), std::max<int>(1, s.size()), "axis");
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_mvn(InferContext& ctx) {
  check_float(ctx, 0, "input");
  const Shape& s = ctx.input_shape(0);
  std::vector<int64_t> axes = ctx.attrs().get_ints("axes", {0, 2, 3});
  for (int64_t a : axes) normalize_axis(a, static_cast<int>(s.size()), "axes");
  ctx.set_output(0, ctx.input_dtype(0), s);
}

void infer_topk(InferContext& ctx) {
  DType t = ctx.input_dtype(0);
  R1_CHECK(t != DType::Bool, ModelError) << "TopK of bool is not supported";
  const Shape& s = ctx.input_shape(0);
  int rank = static_cast<int>(s.size());
  int axis = normalize_axis(ctx.attrs().get_int("axis", -1), rank, "axis");
  int64_t k = 0;
  if (ctx.opset() < 10) {
    R1_CHECK(ctx.attrs().has("k"), ModelError) << "TopK needs the k attribute before opset 10";
    k = ctx.attrs().get_int("k", 0);
  } else {
    R1_CHECK(ctx.has_input(1), ModelError) << "TopK needs the K input from opset 10";
    std::vector<int64_t> kv;
    if (!ctx.input_ints(1, &kv)) {
      Shape out = s;
      out[axis] = kUnknownDim;
      ctx.set_output(0, t, out);
      ctx.set_output(1, DType::Int64, out);
      return;
    }
    R1_CHECK(kv.size() == 1, InputError) << "TopK K must hold one value, got " << kv.size();
    k = kv[0];
  }
  R1_CHECK(k >= 0, InputError) << "TopK k must be non-negative, got " << k;
  if (is_known(s[axis])) R1_CHECK(k <= s[axis], InputError) << "TopK k=" << k << " exceeds the axis length " << s[axis];
  Shape out = s;
  out[axis] = k;
  ctx.set_output(0, t, out);
  ctx.set_output(1, DType::Int64, out);
}

OpSchema with_opsets(OpSchema s, int since, int max = 1000) {
  s.since_opset = since;
  s.max_opset = max;
  return s;
}

}  // namespace

void register_reduce_ops(OpRegistry& reg) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})
    reg.add(schema(op, 1, 2, infer_reduce));
  reg.add(schema("ArgMax", 1, 1, infer_arg));
  reg.add(schema("ArgMin", 1, 1, infer_arg));
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) reg.add(schema(op, 1, 1, infer_softmax));
  reg.add(with_opsets(schema("LayerNormalization", 2, 3, infer_layernorm, 1, 3), 17));
  reg.add(with_opsets(schema("BatchNormalization", 5, 5, infer_batchnorm, 1, 5), 7));
  reg.add(schema("InstanceNormalization", 3, 3, infer_norm_nc));
  reg.add(with_opsets(schema("GroupNormalization", 3, 3, infer_norm_nc), 18));
  reg.add(schema("LpNormalization", 1, 1, infer_lpnorm));
  reg.add(schema("MeanVarianceNormalization", 1, 1, infer_mvn));
  reg.add(schema("TopK", 1, 2, infer_topk, 2, 2));
}
}  // namespace r1
