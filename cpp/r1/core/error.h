// Typed errors that carry a message to Python.
//
//   R1_CHECK(axis < rank, InputError) << "axis " << axis << " out of range for rank " << rank;
//   throw r1::ModelError("unsupported op 'Foo' in node 'n3' (opset 13)");
//
// The bindings translate each class to the Python exception of the same name
// (deepseek_r1.ModelError, InputError, ...), so messages reach users unchanged.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace r1 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The model (file, graph, attributes, ops) is invalid or unsupported.
class ModelError : public Error {
  using Error::Error;
};
// The caller passed inputs that do not match the model (names, shapes, dtypes).
class InputError : public Error {
  using Error::Error;
};
// A device could not be used (absent, out of memory, driver failure).
class DeviceError : public Error {
  using Error::Error;
};
// A bug in the engine itself: an invariant did not hold.
class InternalError : public Error {
  using Error::Error;
};

namespace detail {
// Collects a message with << and throws E when destroyed at the end of the full expression.
template <class E>
class Thrower {
 public:
  Thrower() = default;
  Thrower(const Thrower&) = delete;
  template <class T>
  Thrower& operator<<(const T& v) {
    os_ << v;
    return *this;
  }
  [[noreturn]] ~Thrower() noexcept(false) { throw E(os_.str()); }

 private:
  std::ostringstream os_;
};
}  // namespace detail
}  // namespace r1

// A loop rather than if/else so that `if (x) R1_CHECK(...) << ...;` has no dangling else: the
// Thrower's destructor throws at the end of the statement, so the body never runs twice.
#define R1_CHECK(cond, ErrorType) \
  while (!(cond)) ::r1::detail::Thrower<::r1::ErrorType>()

#define R1_THROW(ErrorType) ::r1::detail::Thrower<::r1::ErrorType>()
