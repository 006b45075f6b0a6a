// The CPU backend: host memory, synchronous streams, and the reference kernels.
//
//   std::unique_ptr<Device> cpu = make_cpu_device();
#pragma once
#include <memory>

#include "r1/backend/device.h"

namespace r1 {
std::unique_ptr<Device> make_cpu_device();
// Defined in cpu/kernels/kernel_list.cc: every CPU kernel family, in one list.
void register_cpu_kernels(KernelTable& table);
}  // namespace r1
