// Being written.
#include "r1/passes/pass.h"

namespace r1 {
namespace {
class P : public Pass {
 public:
  const char* name() const override { return "weight_prepack"; }
  bool run(Graph&, const PassOptions&) override { return false; }
};
}  // namespace
std::unique_ptr<Pass> make_weight_prepack() { return std::make_unique<P>(); }
}  // namespace r1
