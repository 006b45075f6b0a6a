// "sim:0": host memory posing as an accelerator's, for testing on machines without a GPU what the
// executor does for one: placing nodes (runtime/placement.h), uploading constants, copying values
// between memories, the device arena. Its buffers say MemoryKind::Device, so the executor's
// residency checks treat them exactly as GPU memory; its kernels are the CPU kernels of a subset
// of ops, registered with the same host-input masks as the GPU backend's, so the rest falls back.
// It is not a product device: nothing registers it except register_sim_device() (tests).
//
//   register_sim_device();   // then BackendRegistry::instance().device("sim:0")
//   sim_inject_faults("alloc", 1);   // the next device allocation fails with DeviceError (failover tests)
//   sim_inject_faults("lost", 3);    // the next 3 copies to or from the device fail: a device that fell off the bus
#pragma once
#include <string>

namespace r1 {
void register_sim_device();
// Faults the sim raises as a GPU's runtime would (DeviceError): "alloc" fails device allocations (what a kernel
// that runs out of memory, or a failed launch, reports), "lost" fails copies; the next `count` of them.
// count 0 clears. Throws InputError for another kind.
void sim_inject_faults(const std::string& kind, int count);
}  // namespace r1
