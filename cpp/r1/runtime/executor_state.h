// The executor's per-run state, shared by its source files (executor.cc runs steps; executor_outputs.cc places
// and checks their outputs in the plan's arena). Not a public header.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "r1/runtime/executor.h"

namespace r1 {

// What one step in flight needs; a group of steps running at once uses one lane each.
struct Executor::Lane {
  std::vector<const Tensor*> ins;
  std::vector<Tensor> outs;
  std::vector<OutputPlacement> placements;
  StepShapes inferred;
};

// Vectors a run needs at every step, kept between runs so the hot path does not reallocate them.
struct Executor::Scratch {
  std::vector<Tensor> env;  // per value id
  std::vector<Tensor> alt;  // per value id: its copy in the other memory (GPU executors), made once a run
  std::vector<Lane> lanes;
  std::vector<int64_t> key, bucket;
  std::vector<SymbolBinding> bound;  // check_inputs' scratch
};

struct Executor::RunCtx {
  Plan* plan = nullptr;                            // the layout outputs are placed in, or null
  const KeyShapes* shapes = nullptr;               // this key's planned shapes (exact hit), or null
  const std::shared_ptr<Buffer>* arena = nullptr;  // this run's arena (when plan is set)
  PlanRecorder* rec = nullptr;                     // set on runs that record a plan
  std::atomic<bool> diverged{false};               // a kernel contradicted the planned shapes: infer from here on
  Allocator* device_alloc = nullptr;               // device steps' allocator when not the device's own (graph capture)
  bool capturing = false;
};

}  // namespace r1
