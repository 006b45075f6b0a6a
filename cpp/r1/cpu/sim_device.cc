#include "r1/cpu/sim_device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "r1/backend/registry.h"
#include "r1/cpu/cpu_device.h"

namespace r1 {
namespace {

std::atomic<int> g_alloc_faults{0}, g_lost_faults{0};

// True (and one fewer left) when an injected fault is due.
bool take_fault(std::atomic<int>& left) {
  int n = left.load();
  while (n > 0 && !left.compare_exchange_weak(n, n - 1)) {
  }
  return n > 0;
}

class SimBuffer final : public Buffer {
 public:
  explicit SimBuffer(size_t bytes) : Buffer(nullptr, bytes, MemoryKind::Device) {
    if (bytes) {
      data_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      R1_CHECK(data_ != nullptr, DeviceError) << "sim:0 out of memory allocating " << bytes << " bytes";
    }
  }
  ~SimBuffer() override { std::free(data_); }
};

class SimAllocator final : public Allocator {
 public:
  std::shared_ptr<Buffer> allocate(size_t bytes) override {
    R1_CHECK(!take_fault(g_alloc_faults), DeviceError)
        << "sim:0: out of device memory allocating " << bytes << " bytes (injected fault)";
    return std::make_shared<SimBuffer>(bytes);
  }
  MemoryKind kind() const override { return MemoryKind::Device; }
};

class SimEvent final : public Event {
 public:
  void synchronize() override {}
  bool query() override { return true; }
};

class SimStream final : public Stream {
 public:
  void synchronize() override {}
  void record(Event&) override {}
  void wait(Event&) override {}
};

// The ops the sim runs and which inputs its kernels read on the host, as the GPU backend
// registers them (cuda/kernels/); "any" ops move bytes of every dtype.
struct SimOp {
  const char* op;
  const char* domain;
  uint32_t host_inputs;
  bool any_dtype;
};
const SimOp kSimOps[] = {
    {"Add", "", 0, false},
    {"Sub", "", 0, false},
    {"Mul", "", 0, false},
    {"Div", "", 0, false},
    {"Pow", "", 0, false},
    {"Relu", "", 0, false},
    {"Tanh", "", 0, false},
    {"Sigmoid", "", 0, false},
    {"Exp", "", 0, false},
    {"Sqrt", "", 0, false},
    {"Erf", "", 0, false},
    {"Neg", "", 0, false},
    {"Gelu", "", 0, false},
    {"Softmax", "", 0, false},
    {"LayerNormalization", "", 0, false},
    {"MatMul", "", 0, false},
    {"Gemm", "", 0, false},
    {"FusedMatMul", "r1", 0, false},
    {"Attention", "r1", 0, false},
    {"SkipLayerNorm", "r1", 0, false},
    {"Gelu", "r1", 0, false},
    {"Reshape", "", 1u << 1, true},
    {"Flatten", "", 0, true},
    {"Squeeze", "", 1u << 1, true},
    {"Unsqueeze", "", 1u << 1, true},
    {"Identity", "", 0, true},
    {"Transpose", "", 0, true},
    {"Concat", "", 0, true},
    {"Gather", "", 0, true},
    {"Where", "", 0, true},
    {"Cast", "", 0, true},
    {"Slice", "", 0x1eu, true},
    {"Expand", "", 1u << 1, true},
    {"ReduceMean", "", 1u << 1, false},
};

class SimDevice final : public Device {
 public:
  SimDevice() {
    KernelTable cpu;
    register_cpu_kernels(cpu);
    for (const SimOp& o : kSimOps) {
      const KernelEntry* e = cpu.entry(o.op, o.domain);
      R1_CHECK(e != nullptr, InternalError) << "sim:0 lists " << o.op << " which has no CPU kernel";
      KernelEntry sim = *e;   // the CPU kernel with what it declares about in-place writes
      sim.prepack = nullptr;  // a GPU reads weights as they are
      sim.host_inputs = o.host_inputs;
      sim.supports = o.any_dtype ? supports_any_dtype : nullptr;
      kernels_.add(o.op, o.domain, sim);
    }
  }
  std::string name() const override { return "sim:0"; }
  DeviceKind kind() const override { return DeviceKind::Sim; }
  Allocator& allocator() override { return alloc_; }
  Allocator& host_allocator() override { return host_->allocator(); }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<SimStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<SimEvent>(); }
  const KernelTable& kernels() const override { return kernels_; }
  void copy(const Buffer& src, size_t src_off, Buffer& dst, size_t dst_off, size_t bytes, Stream*) override {
    R1_CHECK(src_off + bytes <= src.size() && dst_off + bytes <= dst.size(), InternalError)
        << "copy of " << bytes << " bytes out of buffer bounds";
    R1_CHECK(!take_fault(g_lost_faults), DeviceError) << "sim:0: the device is lost (injected fault)";
    if (bytes)
      std::memcpy(static_cast<char*>(dst.data()) + dst_off, static_cast<const char*>(src.data()) + src_off, bytes);
  }

 private:
  SimAllocator alloc_;
  std::unique_ptr<Device> host_ = make_cpu_device();
  KernelTable kernels_;
};

}  // namespace

void sim_inject_faults(const std::string& kind, int count) {
  R1_CHECK(kind == "alloc" || kind == "lost", InputError)
      << "fault kind must be 'alloc' or 'lost', got '" << kind << "'";
  (kind == "alloc" ? g_alloc_faults : g_lost_faults) = count < 0 ? 0 : count;
}

void register_sim_device() {
  BackendRegistry::instance().add(
      "sim", [](int) -> std::unique_ptr<Device> { return std::make_unique<SimDevice>(); }, [] { return 1; });
}

}  // namespace r1
