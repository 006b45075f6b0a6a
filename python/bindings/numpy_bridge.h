// numpy <-> r1::Tensor without copies. A tensor made from an array keeps the array alive; an
// array made from a tensor keeps the tensor's buffer alive. bfloat16 uses ml_dtypes.bfloat16.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "r1/core/tensor.h"

namespace r1::py_bridge {
namespace py = pybind11;

// `arr` must be C-contiguous (the Python layer calls np.ascontiguousarray first).
Tensor tensor_from_array(const py::array& arr);
py::array array_from_tensor(const Tensor& t);
// Model inputs / outputs that may be ONNX sequences (Python lists) or empty optionals (None).
Tensor value_from_python(const py::object& v);
py::object value_to_python(const Tensor& t);
DType dtype_from_numpy(const py::dtype& dt);

}  // namespace r1::py_bridge
