// A run's inputs against the graph's declarations: dtype, rank, fixed dims, and one size per symbolic
// dim across all inputs. Throws InputError naming the input, what it must be and what it is.
//
//   std::vector<SymbolBinding> bound;     // scratch, reused between runs
//   check_inputs(graph, inputs, &bound);  // inputs in the order of graph.inputs()
#pragma once
#include <cstdint>
#include <vector>

#include "r1/core/tensor.h"
#include "r1/ir/graph.h"

namespace r1 {

// A symbolic dim and the size the first input that uses it gave it.
struct SymbolBinding {
  int64_t symbol, value;
  const Value* input;
};

void check_inputs(const Graph& g, const std::vector<Tensor>& inputs, std::vector<SymbolBinding>* bound);

}  // namespace r1
