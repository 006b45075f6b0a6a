// Schema and shape inference of Einsum (the equation parser: einsum.h, shared with the kernels).
#include <map>
#include <string>

#include "r1/ir/ops/einsum.h"
#include "r1/ir/ops/matmul_infer.h"
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"

namespace r1 {
namespace {

void infer_einsum(InferContext& c) {
  std::string eq = c.attrs().get_string("equation", "");
  R1_CHECK(!eq.empty(), ModelError) << "Einsum needs an 'equation' attribute";
  std::vector<int> ranks;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    R1_CHECK(c.has_input(i), ModelError) << "Einsum: input " << i << " is missing";
    check_numeric(c, i);
    check_same(c, 0, i);
  }
  for (size_t i = 0; i < c.num_inputs(); ++i) ranks.push_back(c.input_rank(i));
  EinsumSpec spec = parse_einsum(eq, ranks);
  std::map<int, int64_t> size;  // label -> dim (known > 1 wins, then symbolic, then 1)
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const Shape& s = c.input_shape(i);
    for (size_t d = 0; d < s.size(); ++d) {
      int l = spec.inputs[i][d];
      int64_t v = s[d];
      auto it = size.find(l);
      if (it == size.end()) {
        size[l] = v;
        continue;
      }
      int64_t& cur = it->second;
      if (is_known(v) && is_known(cur)) {
        R1_CHECK(v == cur || v == 1 || cur == 1, InputError)
            << "Einsum '" << eq << "': dimension mismatch for a label (" << cur << " vs " << v << ")";
        if (cur == 1) cur = v;
      } else if (is_known(v) && v != 1) {
        cur = v;
      } else if (is_sym_dim(v) && !(is_known(cur) && cur != 1)) {
        cur = v;
      }
    }
  }
  Shape out;
  for (int l : spec.output) out.push_back(size.count(l) ? size[l] : 1);
  c.set_output(0, c.input_dtype(0), out);
}

}  // namespace

void register_einsum_ops(OpRegistry& reg) {
  OpSchema einsum = schema("Einsum", 1, 1000, infer_einsum);
  einsum.since_opset = 12;
  reg.add(einsum);
}
}  // namespace r1
