// A compiler pass rewrites a Graph in place. Passes are small, one per file, and listed in order
// in pipeline.cc; each says whether it changed anything so the pipeline can report and iterate.
//
//   class DeadCode : public Pass {
//     const char* name() const override { return "dead_code"; }
//     bool run(Graph& g, const PassOptions&) override { size_t n = g.nodes().size(); g.remove_dead(); return
//     g.nodes().size() != n; }
//   };
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/ir/graph.h"

namespace r1 {

// Graph passes depend on the graph alone: ModelConverter runs them once, when it writes a .r1, so an
// engine loading that file skips them. Device passes depend on the device, CPU and precision the engine
// opens (precision marking, weight packing, float conversion, scheduling) and run at load (or at
// convert time too, when ModelConverter compiles for a known CPU profile row).
enum class PassStage { Graph, Device };

struct PassOptions {
  int level = 3;  // 0: none, 1: basic, 2: extended (fusions), 3: layout/packing/precision
  // "fp32" | "bf16" | "int8": fused kernels' compute precision on the CPU (int8: the products with
  // constant weights); on a GPU, "fp16" | "bf16" convert the whole graph to that type (float_conversion).
  std::string precision = "fp32";
  // Per-node exceptions to `precision` on the CPU (r1.quantize's policy and accuracy guard): the first
  // (glob over the node's name, precision) pair that matches a fused node sets its precision.
  std::vector<std::pair<std::string, std::string>> precision_overrides;
  std::set<std::string> disabled;  // pass names to skip (debugging, A/B measurements)
  std::string device = "cpu";      // fusions only create ops this device has kernels for
  bool graph_passes = true;        // run the PassStage::Graph passes
  bool device_passes = true;       // run the PassStage::Device passes
  // The CPU the device passes compile for (weight packing): unset for this machine; a hardware
  // profile row's flags when ModelConverter compiles a .r1 for another CPU.
  std::optional<CpuFeatures> cpu_target;
  // Called after every pass that ran, with its name and the graph (`r1 convert --print-ir-after-all`).
  std::function<void(const std::string&, const Graph&)> after_pass;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  // Rewrites g; returns true when it changed something. The pipeline re-types the graph
  // (schemas, shapes) after a pass that changed it, so passes may leave new values untyped.
  virtual bool run(Graph& g, const PassOptions& opts) = 0;
};

// One entry per pass, created by factory functions declared in passes.h.
std::unique_ptr<Pass> make_constant_folding();
std::unique_ptr<Pass> make_shape_folding();
std::unique_ptr<Pass> make_dead_code();
std::unique_ptr<Pass> make_cse();
std::unique_ptr<Pass> make_control_flow_folding();
std::unique_ptr<Pass> make_identity_elimination();
std::unique_ptr<Pass> make_conv_bn_folding();
std::unique_ptr<Pass> make_gelu_fusion();
std::unique_ptr<Pass> make_layernorm_fusion();
std::unique_ptr<Pass> make_skip_layernorm_fusion();
std::unique_ptr<Pass> make_attention_fusion();
std::unique_ptr<Pass> make_qdq_fusion();
std::unique_ptr<Pass> make_dynamic_quant_import();
std::unique_ptr<Pass> make_matmul_fusion();
std::unique_ptr<Pass> make_static_quant_fusion();
std::unique_ptr<Pass> make_conv_fusion();
std::unique_ptr<Pass> make_transpose_elimination();
std::unique_ptr<Pass> make_weight_prepack();
std::unique_ptr<Pass> make_precision();
std::unique_ptr<Pass> make_branch_scheduling();
std::unique_ptr<Pass> make_float_conversion();

}  // namespace r1
