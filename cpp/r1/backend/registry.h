// The one explicit list of backends. Backends built into this module are listed in registry.cc
// behind R1_WITH_* guards; GPU backends living in their own extension module (_cuda, _hip)
// register a factory when that module is imported.
//
//   Device& d = BackendRegistry::instance().device("cpu");
//   for (auto& name : BackendRegistry::instance().available()) ...
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "r1/backend/device.h"

namespace r1 {

class BackendRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Device>(int index)>;
  // Counts devices of this backend present on the machine (0 when the driver is absent).
  using Counter = std::function<int()>;

  static BackendRegistry& instance();
  void add(const std::string& backend, Factory factory, Counter counter);
  // "cpu", "cuda", "cuda:1"; throws DeviceError naming what is available when absent.
  Device& device(const std::string& spec);
  std::vector<std::string> available();  // "cpu", "cuda:0", ...
  // A kernel that replaces `op` on every device of `backend`, opened now or later
  // (Device::override_kernel; *previous is written when it is applied).
  void add_kernel_override(const std::string& backend, const std::string& op_type, const std::string& domain,
                           const KernelEntry& entry, KernelFn* previous);

 private:
  BackendRegistry();
  std::mutex mu_;
  std::map<std::string, std::pair<Factory, Counter>> backends_;
  std::map<std::string, std::unique_ptr<Device>> devices_;
  struct Override {
    std::string op_type, domain;
    KernelEntry entry;
    KernelFn* previous;
  };
  std::map<std::string, std::vector<Override>> overrides_;  // by backend
};

}  // namespace r1
