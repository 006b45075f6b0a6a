// Structural checks on a graph; throws ModelError naming the first problem found.
//
//   resolve_schemas(g);  // binds each node to its OpSchema or says which op is unsupported
//   verify(g);
#pragma once
#include "r1/ir/graph.h"

namespace r1 {
void resolve_schemas(Graph& g);
void verify(const Graph& g);
}  // namespace r1
