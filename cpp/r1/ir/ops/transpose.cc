// Schema of Transpose.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/shape_infer.h"

namespace r1 {
namespace shape_ops {

std::vector<int64_t> transpose_perm(const AttributeMap& attrs, int rank) {
  std::vector<int64_t> perm = attrs.get_ints("perm");
  if (perm.empty() && !attrs.has("perm")) {
    perm.resize(rank);
    for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
    return perm;
  }
  R1_CHECK(static_cast<int>(perm.size()) == rank, InputError)
      << "Transpose: perm has " << perm.size() << " entries for an input of rank " << rank;
  std::vector<bool> seen(rank, false);
  for (auto& p : perm) {
    p = normalize_axis(p, rank, "Transpose perm entry");
    R1_CHECK(!seen[p], ModelError) << "Transpose: perm repeats axis " << p;
    seen[p] = true;
  }
  return perm;
}

}  // namespace shape_ops

namespace {
using namespace shape_ops;

void infer_transpose(InferContext& c) {
  const Shape& in = c.input_shape(0);
  int r = static_cast<int>(in.size());
  std::vector<int64_t> perm = transpose_perm(c.attrs(), r);
  Shape out(r);
  for (int i = 0; i < r; ++i) out[i] = in[perm[i]];
  c.set_output(0, c.input_dtype(0), out);
}

}  // namespace

void register_transpose_ops(OpRegistry& reg) { reg.add(schema("Transpose", 1, 1, infer_transpose)); }
}  // namespace r1
