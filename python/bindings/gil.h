// Runs f() with the GIL released and returns its result.
//
// Not py::gil_scoped_release: at interpreter shutdown CPython may end a daemon thread with
// pthread_exit inside PyEval_RestoreThread; from a noexcept destructor that unwind aborts the
// process. Here the GIL is re-taken outside any destructor or catch block, so the unwind passes.
#pragma once
#include <exception>
#include <type_traits>

#include <pybind11/pybind11.h>

namespace r1::bindings {

template <class F>
auto without_gil(F&& f) {
  using R = std::invoke_result_t<F>;
  PyThreadState* state = PyEval_SaveThread();
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
    PyEval_RestoreThread(state);
    if (error) std::rethrow_exception(error);
  } else {
    R result{};
    try {
      result = f();
    } catch (...) {
      error = std::current_exception();
    }
    PyEval_RestoreThread(state);
    if (error) std::rethrow_exception(error);
    return result;
  }
}

}  // namespace r1::bindings
