// Schemas of Expand and Tile.
#include <algorithm>

#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_expand(InferContext& c) {
  DType t = c.input_dtype(0);
  std::vector<int64_t> spec;
  if (!c.input_ints(1, &spec)) {
    int64_t n = static_len(c, 1);
    if (n >= 0 && c.input_has_shape(0))
      n = std::max<int64_t>(n, c.input_rank(0));
    else
      n = -1;
    set_unknown_rank(c, 0, t, n);
    return;
  }
  for (int64_t v : spec) R1_CHECK(v >= 0, InputError) << "Expand: negative dim " << v << " in shape";
  c.set_output(0, t, broadcast_shapes(c.input_shape(0), spec));
}

void infer_tile(InferContext& c) {
  DType t = c.input_dtype(0);
  const Shape& in = c.input_shape(0);
  std::vector<int64_t> rep;
  if (!c.input_ints(1, &rep)) {
    c.set_output(0, t, Shape(in.size(), kUnknownDim));
    return;
  }
  R1_CHECK(rep.size() == in.size(), InputError)
      << "Tile: repeats has " << rep.size() << " entries for an input of rank " << in.size();
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    R1_CHECK(rep[i] >= 0, InputError) << "Tile: negative repeat " << rep[i];
    if (is_known(in[i]))
      out[i] = in[i] * rep[i];
    else
      out[i] = rep[i] == 1 ? in[i] : (rep[i] == 0 ? 0 : kUnknownDim);
  }
  c.set_output(0, t, out);
}

}  // namespace

void register_expand_tile_ops(OpRegistry& reg) {
  reg.add(schema("Expand", 2, 2, infer_expand));
  reg.add(schema("Tile", 2, 2, infer_tile));
}
}  // namespace r1
