#include "bind.h"
#include "r1/core/error.h"

namespace r1::bindings {
void bind_errors(py::module_& m) {
  static py::exception<r1::Error> base(m, "R1Error", PyExc_RuntimeError);
  static py::exception<r1::ModelError> model(m, "ModelError", base.ptr());
  static py::exception<r1::InputError> input(m, "InputError", base.ptr());
  static py::exception<r1::DeviceError> device(m, "DeviceError", base.ptr());
  static py::exception<r1::InternalError> internal(m, "InternalError", base.ptr());
  // Most derived first: pybind11 tries translators in reverse registration order.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const r1::ModelError& e) {
      py::set_error(model, e.what());
    } catch (const r1::InputError& e) {
      py::set_error(input, e.what());
    } catch (const r1::DeviceError& e) {
      py::set_error(device, e.what());
    } catch (const r1::InternalError& e) {
      py::set_error(internal, e.what());
    } catch (const r1::Error& e) {
      py::set_error(base, e.what());
    }
  });
}
}  // namespace r1::bindings
