// Registers this GPU backend into _core's BackendRegistry through the C-ABI hook, and keeps the
// devices _core has opened so the module's own functions (memory stats, trim) can reach them.
//
//   register_backend(hook);          // at module import; "cuda" (or "hip") becomes available
//   GpuDevice* d = opened_device(0); // nullptr until _core has opened cuda:0
#pragma once
#include "device.h"
#include "r1/backend/plugin.h"

namespace r1::gpu {

void register_backend(const r1_backend_hook* hook);
GpuDevice* opened_device(int index);

}  // namespace r1::gpu
