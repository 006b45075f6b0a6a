// "sim:0": host memory posing as an accelerator's, for testing on machines without a GPU what the
// executor does for one: placing nodes (runtime/placement.h), uploading constants, copying values
// between memories, the device arena. Its buffers say MemoryKind::Device, so the executor's
// residency checks treat them exactly as GPU memory; its kernels are the CPU kernels of a subset
// of ops, registered with the same host-input masks as the GPU backend's, so the rest falls back.
// It is not a product device: nothing registers it except register_sim_device() (tests).
//
//   register_sim_device();   // then BackendRegistry::instance().device("sim:0")
#pragma once

namespace r1 {
void register_sim_device();
}  // namespace r1
