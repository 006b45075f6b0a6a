// The pass order, and why each pass sits where it does.
//
// Level 1 (basic) cleans the graph the exporter wrote:
//   identity_elimination  first: Identity/Dropout/no-op Cast hide patterns from every later pass.
//   shape_folding         turns Shape→Gather→Concat chains into constants (or Reshape's 0/-1 forms)
//                         wherever the static dims suffice; must precede constant folding, which
//                         then collapses what the chains fed.
//   constant_folding      evaluates nodes whose inputs are all constants (weights reshaped or
//                         transposed by the exporter, folded shape arithmetic).
//   cse                   merges identical nodes (repeated Shape/Unsqueeze chains, duplicated
//                         constants of masks) so the fusions see one producer per pattern.
//   dead_code             drops what the above orphaned.
// Level 2 (extended) fuses, from the largest patterns down so a small fusion never eats a piece
// of a larger one:
//   conv_bn_folding       folds BatchNorm into the preceding Conv's weights (pure constant math).
//   attention_fusion      Q·Kᵀ→scale→mask→softmax→·V into r1::Attention, before the MatMul fusion
//                         could claim its MatMuls.
//   layernorm_fusion      the decomposed ReduceMean/Sub/Pow/Sqrt/Div pattern → LayerNormalization.
//   skip_layernorm_fusion residual Add (+ bias) feeding a LayerNormalization → r1::SkipLayerNorm;
//                         after layernorm_fusion, which creates its input pattern.
//   gelu_fusion           erf/tanh GELU formulas → r1::Gelu, so matmul_fusion can absorb it.
//   matmul_fusion         MatMul/Gemm + bias + activation (+ residual) → r1::FusedMatMul; after
//                         gelu_fusion (activations) and skip_layernorm_fusion (which takes the
//                         residual Adds that belong to LayerNorms).
//   conv_fusion           Conv + activation (+ residual) → r1::FusedConv, after conv_bn_folding.
//   precision             marks the fused ops for bf16 compute when precision="bf16" (the fused
//                         kernels are the ones with bf16 paths, so bf16 needs level >= 2).
// Level 3 (layout) changes how data is laid out, on the final op set:
//   transpose_elimination merges Transpose/Reshape chains and drops identity permutations.
//   weight_prepack        packs constant GEMM weights for this CPU's kernels (needs the final
//                         precision and the final consumers of each weight).
//   float_conversion      on GPUs only, precision fp16/bf16: every float32 tensor becomes that type
//                         (at every level: it is a precision choice, not an optimization); after
//                         the fusions, whose patterns are written for float32 graphs.
//   branch_scheduling     orders nodes so independent GEMMs/convs/attention sit side by side for
//                         the executor's inter-op groups (last: every rewrite before it would
//                         move nodes again; retyping keeps an order that is already topological).
// dead_code runs again at the end of levels 2 and 3 to drop what fusions orphaned.
#include "r1/passes/pipeline.h"

#include <chrono>

#include "r1/ir/builder.h"
#include "r1/ir/op_registry.h"
#include "r1/ir/verifier.h"

namespace r1 {
namespace {

constexpr int kMaxRounds = 4;

struct Entry {
  int level;
  std::unique_ptr<Pass> (*make)();
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> e = {
      {1, make_identity_elimination},
      {1, make_shape_folding},
      {1, make_constant_folding},
      {1, make_cse},
      {1, make_dead_code},
      {2, make_conv_bn_folding},
      {2, make_attention_fusion},
      {2, make_layernorm_fusion},
      {2, make_skip_layernorm_fusion},
      {2, make_gelu_fusion},
      {2, make_matmul_fusion},
      {2, make_conv_fusion},
      {2, make_precision},
      {2, make_dead_code},
      {3, make_transpose_elimination},
      {3, make_weight_prepack},
      {3, make_dead_code},
      {0, make_float_conversion},
      {3, make_branch_scheduling},
  };
  return e;
}

}  // namespace

void retype_graph(Graph& g) {
  g.remove_dead();
  g.topological_sort();
  resolve_schemas(g);
  verify(g);
  infer_shapes(g);
}

std::vector<std::string> pass_names(int level) {
  std::vector<std::string> names;
  for (const Entry& e : entries())
    if (e.level <= level) names.push_back(e.make()->name());
  return names;
}

OptimizeReport optimize(Graph& g, const PassOptions& opts) {
  R1_CHECK(opts.level >= 0 && opts.level <= 3, ModelError) << "optimization level must be 0 to 3, got " << opts.level;
  const bool gpu = opts.device != "cpu";
  R1_CHECK(opts.precision == "fp32" || opts.precision == "bf16" || (gpu && opts.precision == "fp16"), ModelError)
      << "precision must be 'fp32' or 'bf16'" << (gpu ? " or 'fp16'" : " ('fp16' needs a GPU device)") << ", got '"
      << opts.precision << "'";
  OptimizeReport rep;
  rep.nodes_before = static_cast<int>(g.nodes().size());
  for (const Entry& e : entries()) {
    if (e.level > opts.level) continue;
    std::unique_ptr<Pass> pass = e.make();
    if (opts.disabled.count(pass->name())) continue;
    PassRecord rec;
    rec.name = pass->name();
    rec.nodes_before = static_cast<int>(g.nodes().size());
    auto t0 = std::chrono::steady_clock::now();
    // A pass sees the values it created as untyped until the graph is re-typed, so a pattern that
    // starts at one of them (MatMul after a fused MatMul, LayerNorm after a fused one) matches on
    // the next round: run each pass to a fixpoint, bounded.
    for (int round = 0; round < kMaxRounds; ++round) {
      if (!pass->run(g, opts)) break;
      rec.changed = true;
      retype_graph(g);
    }
    rec.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    rec.nodes_after = static_cast<int>(g.nodes().size());
    rep.passes.push_back(rec);
    if (opts.after_pass) opts.after_pass(rec.name, g);
  }
  rep.nodes_after = static_cast<int>(g.nodes().size());
  return rep;
}

}  // namespace r1
