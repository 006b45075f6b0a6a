// Recognises an activation node that a fused kernel can apply in its epilogue, and writes the
// fused ops' activation attributes (activation, act_alpha, act_beta; cpp/r1/passes/README.md).
//
//   AttributeMap a;
//   if (Node* act = passes::fusable_activation(out_value, &a)) { ... absorb act ... }
#pragma once
#include "r1/ir/graph.h"

namespace r1::passes {

// When v's only reader is an activation the fused kernels implement, returns that node and sets
// the attributes; else nullptr. Silu is matched as Mul(x, Sigmoid(x)): the returned node is the Mul.
Node* fusable_activation(Value* v, AttributeMap* attrs);

}  // namespace r1::passes
