// What a kernel sees: its node, input tensors, and outputs that are allocated on first use
// with the shapes inference gave (or set by the kernel itself for data-dependent shapes or views).
//
//   void relu(KernelContext& ctx) {
//     const Tensor& x = ctx.input(0);
//     Tensor& y = ctx.output(0);                 // allocated with the inferred dtype/shape
//     ctx.pool().parallel_for(0, x.numel(), 4096, [&](int64_t b, int64_t e) { ... });
//   }
//   table.add("Relu", relu);
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "r1/core/cpu_features.h"
#include "r1/core/tensor.h"
#include "r1/core/thread_pool.h"
#include "r1/ir/graph.h"

namespace r1 {

class Allocator;
class Buffer;

// Where the executor's memory plan puts an output: a region of the run's arena. An output whose
// bytes fit is made a view there instead of being allocated, so planned runs allocate nothing.
struct OutputPlacement {
  const std::shared_ptr<Buffer>* arena = nullptr;  // nullptr: allocate normally
  size_t offset = 0;
  size_t capacity = 0;
};

// Runs a subgraph of the node being executed (If's branches, Loop's and Scan's body). The executor provides
// one (runtime/subgraph_executors.h); it plans and caches each subgraph as it does the graph itself.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  // Inputs in the subgraph's input order; the outputs are in memory of their own.
  virtual std::vector<Tensor> run(const std::shared_ptr<Graph>& sub, const std::vector<Tensor>& inputs) = 0;
};

class KernelContext {
 public:
  KernelContext(const Node& node, std::vector<const Tensor*> inputs, std::vector<Tensor>* outputs,
                const std::vector<DType>* out_dtypes, const std::vector<Shape>* out_shapes,
                const std::vector<bool>* out_known, Allocator& alloc, ThreadPool& pool)
      : node_(node),
        inputs_(std::move(inputs)),
        outputs_(outputs),
        out_dtypes_(out_dtypes),
        out_shapes_(out_shapes),
        out_known_(out_known),
        alloc_(alloc),
        pool_(pool) {}

  const Node& node() const { return node_; }
  const AttributeMap& attrs() const { return node_.attrs; }
  int opset() const { return node_.opset; }
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  const Tensor& input(size_t i) const;
  size_t num_outputs() const { return outputs_->size(); }
  bool has_output(size_t i) const { return i < node_.outputs.size() && node_.outputs[i] != nullptr; }

  // The i-th output, allocated with the inferred dtype and shape on first call.
  Tensor& output(size_t i);
  // Allocates the i-th output with an explicit shape (data-dependent shapes: NonZero, TopK...).
  Tensor& allocate_output(size_t i, const Shape& shape, DType dtype);
  // Makes the i-th output a view of existing memory (Reshape, Squeeze, Identity): no copy.
  void set_output(size_t i, Tensor t);

  // What shape inference said of output i (without allocating it): view kernels use it.
  const Shape& output_shape(size_t i) const { return (*out_shapes_)[i]; }
  DType output_dtype(size_t i) const { return (*out_dtypes_)[i]; }
  bool output_shape_known(size_t i) const { return (*out_known_)[i]; }

  ThreadPool& pool() const { return pool_; }
  Allocator& allocator() const { return alloc_; }

  // Control-flow kernels run subgraphs through this (InternalError where nothing provides one: folding).
  SubgraphRunner& subgraphs() const;

  // Executor side. One placement per output (nullptr: none); read while the kernel runs.
  void set_subgraphs(SubgraphRunner* r) { subgraphs_ = r; }
  void set_placements(const OutputPlacement* p) { placements_ = p; }
  // Bit i is set when output i (i < 64) came from output()/allocate_output() rather than set_output():
  // the memory planner gives such outputs storage of their own, and treats the rest as views.
  uint64_t allocated_mask() const { return allocated_; }
  // Hands the input vector back so the executor reuses its capacity on the next step.
  std::vector<const Tensor*> take_inputs() { return std::move(inputs_); }

 private:
  const Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor>* outputs_;
  const std::vector<DType>* out_dtypes_;
  const std::vector<Shape>* out_shapes_;
  const std::vector<bool>* out_known_;
  Allocator& alloc_;
  ThreadPool& pool_;
  const OutputPlacement* placements_ = nullptr;
  SubgraphRunner* subgraphs_ = nullptr;
  uint64_t allocated_ = 0;
};

using KernelFn = void (*)(KernelContext&);
// Whether a kernel handles this node (its static input / output dtypes); the executor runs a node
// on another device (the CPU) where its preferred device's kernel says no.
using KernelSupportsFn = bool (*)(const Node&);

// The default for device kernels (nullptr): every input the kernel reads in device memory and every
// output is float32 / float16 / bfloat16 or bool, and at least one of them is float.
bool supports_float_types(const Node& n, uint32_t host_inputs);
// For kernels that move bytes whatever they mean (Transpose, Concat, Gather...).
bool supports_any_dtype(const Node& n);

// What a kernel's prepack hook may use: the graph it rewrites, the CPU it compiles for (this machine's,
// or a hardware profile row's when ModelConverter compiles for another), and the constants already
// rewritten for earlier nodes ((source value, layout) -> rewritten value), so a weight shared by
// several nodes (tied embeddings) is rewritten once per layout.
struct PrepackContext {
  Graph& graph;
  const CpuFeatures& target;
  std::map<std::pair<const Value*, std::string>, Value*>& done;
  // The target is this host (packing at load), not a CPU row compiled for: layouts that only pay off on
  // some CPUs of a row (2:4 sparse int8) are stored as they are at compile time and chosen here.
  bool at_load = false;
};
// Rewrites a node's constant inputs once, at compile or load time, into the layout this kernel reads
// (weight prepacking), or back to the plain layout where the target's kernels cannot read the packed
// one. Returns true when it changed the node. Run by the weight_prepack pass.
using KernelPrepackFn = bool (*)(Node& n, PrepackContext& ctx);

// One kernel and the facts about it the compiler and the executor need.
struct KernelEntry {
  KernelFn fn = nullptr;
  // Bit i set: input i is read on the host (shape-like inputs: Reshape's shape, Slice's starts...),
  // so a device kernel is handed a host copy of it. CPU kernels read every input on the host.
  uint32_t host_inputs = 0;
  KernelSupportsFn supports = nullptr;  // nullptr: supports_float_types
  // Bit i set: output 0 may be written over input i when both have the same shape and dtype (the
  // kernel reads each element of input i before it writes the same element of the output). The
  // memory plan then lets them share one slot.
  uint32_t inplace_inputs = 0;
  KernelPrepackFn prepack = nullptr;  // weight prepacking (see above); nullptr: none

  bool supported(const Node& n) const { return supports ? supports(n) : supports_float_types(n, host_inputs); }
  KernelEntry& in_place(uint32_t inputs) {
    inplace_inputs = inputs;
    return *this;
  }
  KernelEntry& with_prepack(KernelPrepackFn fn) {
    prepack = fn;
    return *this;
  }
};

// Kernels of one device, by op key ("Relu", "com.microsoft::Gelu").
class KernelTable {
 public:
  // Returns the new entry so a registration can declare more facts: t.add("Relu", relu).in_place(1);
  KernelEntry& add(const std::string& op_type, KernelFn fn, const std::string& domain = "", uint32_t host_inputs = 0,
                   KernelSupportsFn supports = nullptr);
  KernelEntry& add(const std::string& op_type, const std::string& domain, const KernelEntry& entry);
  KernelFn find(const std::string& op_type, const std::string& domain) const;
  const KernelEntry* entry(const std::string& op_type, const std::string& domain) const;  // nullptr: none
  std::vector<std::string> op_names() const;

 private:
  std::unordered_map<std::string, KernelEntry> map_;
};

}  // namespace r1
