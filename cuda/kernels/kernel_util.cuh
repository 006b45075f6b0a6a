// Small helpers shared by GPU kernel files: integer element types that load and store unchanged, the
// grid of a one-block-per-row kernel, dtype set membership and the float-dtype support predicates.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "../vendor.h"
#include "r1/backend/kernel.h"
#include "r1/core/dtype.h"

namespace r1::gpu {

// Integer element types (load / store unchanged).
template <class V>
struct IntT {
  using storage = V;
  __device__ static V load(V v) { return v; }
  __device__ static V store(V v) { return v; }
};

inline unsigned grid_for_rows(int64_t rows) { return static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20)); }

inline bool dtype_in(DType t, std::initializer_list<DType> set) {
  for (DType d : set)
    if (d == t) return true;
  return false;
}

inline bool float_dtype(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Every wired input and output of one float dtype (the kernels read scale / bias as X's dtype).
inline bool same_float_supports(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0]) return false;
  const DType t = n.inputs[0]->dtype;
  if (!float_dtype(t)) return false;
  for (const Value* v : n.inputs)
    if (v && v->dtype != t) return false;
  if (n.outputs.empty() || !n.outputs[0]) return false;
  for (const Value* v : n.outputs)
    if (v && v->dtype != t) return false;
  return true;
}

}  // namespace r1::gpu
