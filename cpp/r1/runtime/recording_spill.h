// Keeps a run that records a plan within its memory budget: such a run has no plan yet (runtime/plan.h), so every
// intermediate is an allocation of its own, and without this its activations would all be held at once the first
// time an input shape is seen. After each step, while the activations the engine holds and the next step's outputs
// (guessed: the most any step made so far) exceed what the budget leaves them, the value read again latest
// (Belady's choice) is written to the spill file and let go; before a
// step reads a value that was let go, it is read back into a fresh allocation. Copies are synchronous: a recording
// run happens once per input shape, and what it measures (sizes, lifetimes) does not depend on them.
//
//   RecordingSpill rs(spiller, graph, readers, allocator, room, env);   // one per recording run, CPU only
//   for (s ...) { rs.before(s); <run step s>; rs.after(s); }
//
// Only values that own their whole buffer alone (no view of it is alive, not a graph output) are let go: letting go
// of a value that a view still holds would free nothing.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "r1/ir/graph.h"
#include "r1/runtime/activation_spill.h"
#include "r1/runtime/memory_pool.h"

namespace r1 {

class RecordingSpill {
 public:
  // readers[v]: the steps reading value v, ascending. room: the bytes of activations the budget leaves.
  RecordingSpill(ActivationSpiller& spiller, const Graph& g, const std::vector<std::vector<int>>& readers,
                 BudgetAllocator& allocator, size_t room, std::vector<Tensor>& env);
  ~RecordingSpill();
  RecordingSpill(const RecordingSpill&) = delete;
  RecordingSpill& operator=(const RecordingSpill&) = delete;
  void before(int step);
  void after(int step);

 private:
  struct Out {
    DType dtype;
    Shape shape;
    size_t bytes;
    uint64_t file_offset;
  };
  int next_read(int value, int step) const;  // the first step after `step` reading it, or -1
  ActivationSpiller& sp_;
  const Graph& g_;
  const std::vector<std::vector<int>>& readers_;
  BudgetAllocator& alloc_;
  size_t room_;
  size_t margin_ = 0;  // the most bytes of outputs one step made so far
  std::vector<Tensor>& env_;
  std::unordered_map<int, Out> out_;  // value id -> where its bytes are
  uint64_t file_end_ = 0;
  uint64_t bytes_ = 0;
  double wait_s_ = 0;
  int spills_ = 0;
};

}  // namespace r1
