// Runs the compiler passes on a graph, in the order pipeline.cc gives.
//
//   PassOptions opts; opts.level = 3;
//   OptimizeReport rep = optimize(graph, opts);   // graph is rewritten in place
//   for (auto& p : rep.passes) printf("%s: %d -> %d nodes\n", p.name.c_str(), p.nodes_before, p.nodes_after);
#pragma once
#include <string>
#include <vector>

#include "r1/passes/pass.h"

namespace r1 {

struct PassRecord {
  std::string name;
  PassStage stage = PassStage::Graph;
  bool changed = false;
  int nodes_before = 0, nodes_after = 0;
  double ms = 0;
};

struct OptimizeReport {
  std::vector<PassRecord> passes;
  int nodes_before = 0, nodes_after = 0;
};

OptimizeReport optimize(Graph& g, const PassOptions& opts);
// The pass names of each level, in order (for docs, tests and --disable); all stages, or one.
std::vector<std::string> pass_names(int level);
std::vector<std::string> pass_names(int level, PassStage stage);
// Re-types a rewritten graph: topological order, schemas, verification, shape inference.
void retype_graph(Graph& g);

}  // namespace r1
