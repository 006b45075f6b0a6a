#include "r1/runtime/schedule.h"

#include <string>
#include <unordered_set>

namespace r1 {

bool is_heavy_op(const Node& n) {
  static const std::unordered_set<std::string> onnx = {"MatMul",      "Gemm",          "Conv",       "ConvTranspose",
                                                       "LSTM",        "GRU",           "RNN",        "MatMulInteger",
                                                       "ConvInteger", "QLinearMatMul", "QLinearConv"};
  static const std::unordered_set<std::string> r1_ops = {"FusedMatMul", "FusedConv", "Attention"};
  if (n.domain.empty() || n.domain == "ai.onnx") return onnx.count(n.op_type) > 0;
  if (n.domain == "r1") return r1_ops.count(n.op_type) > 0;
  return false;
}

std::vector<StepGroup> group_steps(const Graph& g, int threads) {
  const auto& nodes = g.nodes();
  std::vector<StepGroup> groups;
  std::unordered_set<const Node*> members;
  for (size_t s = 0; s < nodes.size(); ++s) {
    const Node& n = *nodes[s];
    bool join = false;
    if (threads > 1 && !groups.empty() && is_heavy_op(n)) {
      const StepGroup& last = groups.back();
      const Node& head = *nodes[last.first];
      join = is_heavy_op(head) && last.size < threads;
      for (const Value* in : n.inputs)
        if (join && in && in->producer && members.count(in->producer)) join = false;
    }
    if (join) {
      ++groups.back().size;
    } else {
      groups.push_back({static_cast<int>(s), 1});
      members.clear();
    }
    members.insert(&n);
  }
  return groups;
}

void group_spans(const std::vector<StepGroup>& groups, size_t num_steps, std::vector<int>* lo, std::vector<int>* hi) {
  lo->assign(num_steps, 0);
  hi->assign(num_steps, 0);
  for (const StepGroup& gr : groups)
    for (int s = gr.first; s < gr.first + gr.size; ++s) {
      (*lo)[s] = gr.first;
      (*hi)[s] = gr.first + gr.size - 1;
    }
}

}  // namespace r1
