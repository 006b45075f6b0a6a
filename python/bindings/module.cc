// deepseek_r1._core: the native engine. Bindings only; logic lives in cpp/r1.
#include "bind.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "deepseek_r1 native engine";
  using namespace r1::bindings;
  bind_errors(m);
  bind_tensor(m);
  bind_graph(m);
  bind_memory_pool(m);
  bind_executor(m);
  bind_memory(m);
  bind_format(m);
  bind_devices(m);
  bind_hardware(m);
  bind_passes(m);
  bind_kernels(m);
  bind_wire(m);
  bind_io(m);
}
