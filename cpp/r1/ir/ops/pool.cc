// Schemas and shape inference of the pools: MaxPool, AveragePool, LpPool, GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool (geometry: conv_util.h).
#include "r1/ir/ops/conv_util.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_pool(InferContext& c, const char* op, bool allow_int) {
  DType t = c.input_dtype(0);
  if (allow_int) {
    R1_CHECK(is_float(t) || t == DType::Int8 || t == DType::UInt8, ModelError)
        << op << " of " << dtype_name(t) << " is not supported";
  } else {
    check_float(t, op);
  }
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() >= 3, InputError) << op << " input must have rank >= 3, got " << shape_str(x);
  std::vector<int64_t> k = c.attrs().get_ints("kernel_shape");
  R1_CHECK(!k.empty(), ModelError) << op << " needs attribute kernel_shape";
  if (c.attrs().get_int("storage_order", 0) != 0) {
    R1_CHECK(x.size() == 4, ModelError) << "storage_order=1 is not supported for rank " << x.size();
  }
  conv_geom::Geom g = conv_geom::forward(c.attrs(), spatial(x), k, true);
  Shape out = {x[0], x[1]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set_output(0, t, out);
  if (c.has_output(1)) c.set_output(1, DType::Int64, out);
}

void infer_global_pool(InferContext& c, const char* op, bool allow_int) {
  DType t = c.input_dtype(0);
  if (allow_int) {
    R1_CHECK(is_float(t) || t == DType::Int8 || t == DType::UInt8, ModelError)
        << op << " of " << dtype_name(t) << " is not supported";
  } else {
    check_float(t, op);
  }
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() >= 3, InputError) << op << " input must have rank >= 3, got " << shape_str(x);
  Shape out = {x[0], x[1]};
  out.resize(x.size(), 1);
  c.set_output(0, t, out);
}

}  // namespace

void register_pool_ops(OpRegistry& reg) {
  reg.add(schema("MaxPool", 1, 1, [](InferContext& c) { infer_pool(c, "MaxPool", true); }, 1, 2));
  reg.add(schema("AveragePool", 1, 1, [](InferContext& c) { infer_pool(c, "AveragePool", false); }));
  reg.add(schema("LpPool", 1, 1, [](InferContext& c) { infer_pool(c, "LpPool", false); }));
  reg.add(schema("GlobalAveragePool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalAveragePool", false); }));
  reg.add(schema("GlobalMaxPool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalMaxPool", true); }));
  reg.add(schema("GlobalLpPool", 1, 1, [](InferContext& c) { infer_global_pool(c, "GlobalLpPool", false); }));
}
}  // namespace r1
