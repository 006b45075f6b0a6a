// Schema of TopK.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

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

}  // namespace

void register_topk_ops(OpRegistry& reg) { reg.add(schema("TopK", 1, 2, infer_topk, 2, 2)); }
}  // namespace r1
