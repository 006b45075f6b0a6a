// Readable text form of a graph, one node per line:
//   %y: float32[batch, 384] = Relu(%x)  # relu0
#pragma once
#include <string>

#include "r1/ir/graph.h"

namespace r1 {
std::string print_graph(const Graph& g);
}
