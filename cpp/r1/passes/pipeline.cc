// The pass order, and why each pass sits where it does.
//
// Graph stage (PassStage::Graph): depends on the graph alone. ModelConverter runs it once and stores
// the result in the .r1 file; an engine loading that file skips it.
// Level 1 (basic) cleans the graph the exporter wrote:
//   identity_elimination  first: Identity/Dropout/no-op Cast hide patterns from every later pass.
//   shape_folding         turns Shape→Gather→Concat chains into constants (or Reshape's 0/-1 forms)
//                         wherever the static dims suffice; must precede constant folding, which
//                         then collapses what the chains fed.
//   constant_folding      evaluates nodes whose inputs are all constants (weights reshaped or
//                         transposed by the exporter, folded shape arithmetic).
//   control_flow_folding  inlines an If whose condition is now constant; moves outer constants a
//                         subgraph reads into it (subgraphs are optimized after the graph).
//   cse                   merges identical nodes (repeated Shape/Unsqueeze chains, duplicated
//                         constants of masks) so the fusions see one producer per pattern.
//   dead_code             drops what the above orphaned.
// Level 2 (extended) fuses, from the largest patterns down so a small fusion never eats a piece
// of a larger one:
//   qdq_fusion            QuantizeLinear→DequantizeLinear pairs on activations (QDQ models) → one
//                         r1::QuantDequant; their constant pairs were folded at level 1.
//   dynamic_quant_import  DynamicQuantizeLinear→MatMulInteger→Cast→Mul (onnxruntime's quantize_dynamic)
//                         → an int8 r1::FusedMatMul; before matmul_fusion, which adds its epilogue.
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
//   static_quant_fusion   a FusedMatMul reading a QuantDequant, its weight on an int8 grid → int8 with
//                         the model's activation scale; after matmul_fusion (which makes the node).
//   conv_fusion           Conv + activation (+ residual) → r1::FusedConv, after conv_bn_folding.
// Level 3 (layout):
//   transpose_elimination merges Transpose/Reshape chains and drops identity permutations.
// dead_code runs again at the end of levels 2 and 3 to drop what fusions orphaned.
//
// Device stage (PassStage::Device): depends on the device, CPU and precision the engine opens; runs
// at load, on the final op set:
//   precision             (level 2) marks the fused ops for bf16 / int8 compute (precision, policy) on the
//                         CPU (the fused kernels are the ones with bf16 paths).
//   weight_prepack        (level 3) rewrites constant weights into the layout the device's kernels
//                         read (KernelEntry::prepack); after precision, which picks the layout.
//   float_conversion      (every level: a precision choice, not an optimization) on GPUs only,
//                         precision fp16/bf16: every float32 tensor becomes that type; after the
//                         fusions, whose patterns are written for float32 graphs.
//   branch_scheduling     (level 3) orders nodes so independent GEMMs/convs/attention sit side by
//                         side for the executor's inter-op groups (last: every rewrite before it
//                         would move nodes again; retyping keeps an order that is already topological).
// A pass that changed the graph is followed by retype_graph, which also drops dead values (the
// weights packing replaced).
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
  PassStage stage;
  std::unique_ptr<Pass> (*make)();
};

constexpr PassStage G = PassStage::Graph, D = PassStage::Device;

const std::vector<Entry>& entries() {
  static const std::vector<Entry> e = {
      {1, G, make_identity_elimination},
      {1, G, make_shape_folding},
      {1, G, make_constant_folding},
      {1, G, make_control_flow_folding},
      {1, G, make_cse},
      {1, G, make_dead_code},
      {2, G, make_qdq_fusion},
      {2, G, make_dynamic_quant_import},
      {2, G, make_conv_bn_folding},
      {2, G, make_attention_fusion},
      {2, G, make_layernorm_fusion},
      {2, G, make_skip_layernorm_fusion},
      {2, G, make_gelu_fusion},
      {2, G, make_matmul_fusion},
      {2, G, make_static_quant_fusion},
      {2, G, make_conv_fusion},
      {2, G, make_dead_code},
      {3, G, make_transpose_elimination},
      {3, G, make_dead_code},
      {2, D, make_precision},
      {3, D, make_weight_prepack},
      {0, D, make_float_conversion},
      {3, D, make_branch_scheduling},
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

std::vector<std::string> pass_names(int level, PassStage stage) {
  std::vector<std::string> names;
  for (const Entry& e : entries())
    if (e.level <= level && e.stage == stage) names.push_back(e.make()->name());
  return names;
}

OptimizeReport optimize(Graph& g, const PassOptions& opts) {
  R1_CHECK(opts.level >= 0 && opts.level <= 3, ModelError) << "optimization level must be 0 to 3, got " << opts.level;
  const bool gpu = opts.device != "cpu";
  R1_CHECK(opts.precision == "fp32" || opts.precision == "bf16" || (gpu && opts.precision == "fp16") ||
               (!gpu && opts.precision == "int8"),
           ModelError)
      << "precision must be 'fp32' or 'bf16'"
      << (gpu ? " or 'fp16' (int8 runs on the CPU)" : ", 'int8' or ('fp16', on a GPU)") << ", got '" << opts.precision
      << "'";
  OptimizeReport rep;
  rep.nodes_before = static_cast<int>(g.nodes().size());
  for (const Entry& e : entries()) {
    if (e.level > opts.level) continue;
    if (!(e.stage == PassStage::Graph ? opts.graph_passes : opts.device_passes)) continue;
    std::unique_ptr<Pass> pass = e.make();
    if (opts.disabled.count(pass->name())) continue;
    PassRecord rec;
    rec.name = pass->name();
    rec.stage = e.stage;
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
  // Subgraphs (If's branches, loop bodies) get the same passes, after the graph's: control_flow_folding has moved
  // the outer constants they read into them by then. On a GPU they keep their types (control flow runs on the
  // CPU; float_conversion converts the graph around it).
  PassOptions sub_opts = opts;
  sub_opts.after_pass = nullptr;
  if (gpu) sub_opts.device_passes = false;
  for (auto& n : g.nodes())
    for (auto& [attr, sub] : subgraphs_of(*n)) {
      (void)attr;
      optimize(*sub, sub_opts);
    }
  rep.nodes_after = static_cast<int>(g.nodes().size());
  return rep;
}

}  // namespace r1
