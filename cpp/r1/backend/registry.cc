#include "r1/backend/registry.h"

#include "r1/cpu/cpu_device.h"

namespace r1 {

BackendRegistry& BackendRegistry::instance() {
  static BackendRegistry reg;
  return reg;
}

BackendRegistry::BackendRegistry() {
  // The explicit list of built-in backends. The CPU is always there; GPU backends are separate
  // extension modules that call add() when imported (see cuda/ and hip/).
  add("cpu", [](int) { return make_cpu_device(); }, [] { return 1; });
}

void BackendRegistry::add(const std::string& backend, Factory factory, Counter counter) {
  std::lock_guard<std::mutex> lk(mu_);
  backends_[backend] = {std::move(factory), std::move(counter)};
}

Device& BackendRegistry::device(const std::string& spec) {
  std::string backend = spec;
  int index = 0;
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    backend = spec.substr(0, colon);
    try {
      index = std::stoi(spec.substr(colon + 1));
    } catch (...) {
      R1_THROW(DeviceError) << "bad device '" << spec << "': expected e.g. 'cpu' or 'cuda:0'";
    }
  }
  std::string canonical = backend == "cpu" ? "cpu" : backend + ":" + std::to_string(index);
  std::lock_guard<std::mutex> lk(mu_);
  auto dit = devices_.find(canonical);
  if (dit != devices_.end()) return *dit->second;
  auto it = backends_.find(backend);
  int count = it == backends_.end() ? 0 : it->second.second();
  if (it == backends_.end() || index < 0 || index >= count) {
    std::string avail;
    for (auto& kv : backends_)
      for (int i = 0, n = kv.second.second(); i < n; ++i)
        avail += (avail.empty() ? "" : ", ") + (kv.first == "cpu" ? kv.first : kv.first + ":" + std::to_string(i));
    R1_THROW(DeviceError) << "device '" << spec << "' is not available; available devices: " << avail;
  }
  auto dev = it->second.first(index);
  for (const Override& o : overrides_[backend]) dev->override_kernel(o.op_type, o.domain, o.entry, o.previous);
  Device& ref = *dev;
  devices_[canonical] = std::move(dev);
  return ref;
}

void BackendRegistry::add_kernel_override(const std::string& backend, const std::string& op_type,
                                          const std::string& domain, const KernelEntry& entry, KernelFn* previous) {
  std::lock_guard<std::mutex> lk(mu_);
  overrides_[backend].push_back({op_type, domain, entry, previous});
  const std::string prefix = backend + ":";
  for (auto& kv : devices_)
    if (kv.first.compare(0, prefix.size(), prefix) == 0) kv.second->override_kernel(op_type, domain, entry, previous);
}

std::vector<std::string> BackendRegistry::available() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::string> out;
  for (auto& kv : backends_)
    for (int i = 0, n = kv.second.second(); i < n; ++i)
      out.push_back(kv.first == "cpu" ? kv.first : kv.first + ":" + std::to_string(i));
  return out;
}

}  // namespace r1
