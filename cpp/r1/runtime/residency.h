// Where values live for an executor whose device is not the CPU (a GPU, with CPU fallback steps):
// constants that device steps read are uploaded once, when the executor is made; any other value a
// step needs on the other side is copied once per run, on first need, into the run's `alt` slot.
//
//   DeviceResidency res(gpu, cpu);
//   res.upload_constants(graph, placement);
//   const Tensor* t = res.resident(v, &env[v->id], /*want_device=*/true, alt, nullptr);
#pragma once
#include <functional>
#include <vector>

#include "r1/backend/device.h"
#include "r1/ir/graph.h"
#include "r1/runtime/placement.h"

namespace r1 {

class DeviceResidency {
 public:
  DeviceResidency(Device& device, Device& cpu) : device_(device), cpu_(cpu) {}

  // Uploads every constant a device step reads in device memory (each once), but those `skip` says another
  // part brings (the weight streamer).
  void upload_constants(const Graph& g, const Placement& p, const std::function<bool(const Value*)>& skip);

  // Value v (tensor t) where a step wants it: t itself when it is already on that side, the uploaded
  // constant, or its copy in alt[v->id] (per value id), made now when the run has none yet. dev_alloc:
  // the allocator for device copies when not the device's own (graph capture).
  const Tensor* resident(const Value* v, const Tensor* t, bool want_device, std::vector<Tensor>& alt,
                         Allocator* dev_alloc);

  size_t constant_bytes() const { return bytes_; }

 private:
  Device& device_;
  Device& cpu_;
  std::vector<Tensor> constants_;  // per value id: the device copy of a constant a device step reads
  size_t bytes_ = 0;
};

}  // namespace r1
