// Drops nodes whose outputs reach no graph output, and values and weights nobody reads.
#include "r1/passes/pass.h"

namespace r1 {
namespace {
class DeadCode : public Pass {
 public:
  const char* name() const override { return "dead_code"; }
  bool run(Graph& g, const PassOptions&) override {
    size_t nodes = g.nodes().size(), values = g.values().size();
    g.remove_dead();
    return g.nodes().size() != nodes || g.values().size() != values;
  }
};
}  // namespace
std::unique_ptr<Pass> make_dead_code() { return std::make_unique<DeadCode>(); }
}  // namespace r1
