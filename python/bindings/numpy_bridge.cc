#include "numpy_bridge.h"

namespace r1::py_bridge {

namespace {

// Holds a Python object from C++; drops the reference with the GIL held, whichever thread
// releases the last tensor that uses it.
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  ~PyRef() {
    if (!Py_IsInitialized()) {
      obj.release();
      return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
  }
};

py::object bf16_dtype() {
  // Deliberately never released: a static py::object would be decref'd after interpreter shutdown.
  static py::object* dt = new py::object(py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16")));
  return *dt;
}

}  // namespace

DType dtype_from_numpy(const py::dtype& dt) {
  if (dt.equal(bf16_dtype())) return DType::BFloat16;
  char order = dt.attr("byteorder").cast<std::string>()[0];
  R1_CHECK(order != '>', InputError) << "big-endian arrays are not supported (got " << std::string(py::str(dt))
                                     << "); convert with arr.astype(arr.dtype.newbyteorder('='))";
  switch (dt.kind()) {
    case 'f':
      if (dt.itemsize() == 4) return DType::Float32;
      if (dt.itemsize() == 2) return DType::Float16;
      if (dt.itemsize() == 8) return DType::Float64;
      break;
    case 'i':
      if (dt.itemsize() == 1) return DType::Int8;
      if (dt.itemsize() == 2) return DType::Int16;
      if (dt.itemsize() == 4) return DType::Int32;
      if (dt.itemsize() == 8) return DType::Int64;
      break;
    case 'u':
      if (dt.itemsize() == 1) return DType::UInt8;
      if (dt.itemsize() == 2) return DType::UInt16;
      if (dt.itemsize() == 4) return DType::UInt32;
      if (dt.itemsize() == 8) return DType::UInt64;
      break;
    case 'b':
      return DType::Bool;
    default:
      break;
  }
  R1_THROW(InputError) << "unsupported numpy dtype '" << std::string(py::str(dt))
                       << "' (supported: " << kSupportedDtypes << ")";
}

// Object arrays of str / bytes and numpy unicode / bytes arrays as a string tensor (UTF-8).
Tensor strings_from_array(const py::array& arr) {
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  Tensor t = Tensor::empty(DType::String, shape);
  std::string* out = t.data<std::string>();
  py::object flat = arr.attr("reshape")(-1);
  int64_t i = 0;
  for (py::handle e : flat) {
    if (py::isinstance<py::bytes>(e))
      out[i++] = e.cast<std::string>();
    else if (py::isinstance<py::str>(e))
      out[i++] = e.cast<std::string>();
    else
      R1_THROW(InputError) << "a string tensor holds a " << std::string(py::str(e.get_type().attr("__name__")))
                           << " at index " << i << " (str or bytes expected)";
  }
  return t;
}

Tensor tensor_from_array(const py::array& arr) {
  char kind = arr.dtype().kind();
  if (kind == 'O' || kind == 'U' || kind == 'S') return strings_from_array(arr);
  DType dt = dtype_from_numpy(arr.dtype());
  R1_CHECK(arr.flags() & py::array::c_style, InputError) << "array must be C-contiguous (use np.ascontiguousarray)";
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  size_t bytes = static_cast<size_t>(arr.nbytes());
  auto keep = std::make_shared<PyRef>(arr);
  auto buf = std::make_shared<ExternalBuffer>(const_cast<void*>(arr.data()), bytes, MemoryKind::Host, keep);
  return Tensor(dt, std::move(shape), std::move(buf));
}

py::array array_from_tensor(const Tensor& t) {
  if (t.dtype() == DType::String) {  // an object array of str
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
    py::array out(py::dtype("O"), shape);
    py::object flat = out.attr("reshape")(-1);
    const std::string* p = t.data<std::string>();
    for (int64_t i = 0; i < t.numel(); ++i)
      flat.attr("__setitem__")(i, py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(
                                      p[i].data(), static_cast<py::ssize_t>(p[i].size()), "replace")));
    return out;
  }
  py::dtype dt;
  switch (t.dtype()) {
    case DType::Float32:
      dt = py::dtype("float32");
      break;
    case DType::Float16:
      dt = py::dtype("float16");
      break;
    case DType::BFloat16:
      dt = py::reinterpret_borrow<py::dtype>(bf16_dtype());
      break;
    case DType::Int8:
      dt = py::dtype("int8");
      break;
    case DType::UInt8:
      dt = py::dtype("uint8");
      break;
    case DType::Int32:
      dt = py::dtype("int32");
      break;
    case DType::Int64:
      dt = py::dtype("int64");
      break;
    case DType::Int16:
      dt = py::dtype("int16");
      break;
    case DType::UInt16:
      dt = py::dtype("uint16");
      break;
    case DType::UInt32:
      dt = py::dtype("uint32");
      break;
    case DType::UInt64:
      dt = py::dtype("uint64");
      break;
    case DType::Float64:
      dt = py::dtype("float64");
      break;
    case DType::Bool:
      dt = py::dtype("bool");
      break;
    default:
      R1_THROW(InternalError) << "tensor of undefined dtype";
  }
  auto owner = std::make_unique<Tensor>(t);
  void* data = t.raw();
  py::capsule cap(owner.get(), [](void* p) { delete static_cast<Tensor*>(p); });
  owner.release();
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array arr(dt, shape, {}, data, cap);
  if (t.buffer() && !t.buffer()->writable()) {
    // A view of weights or of a caller's input (Identity outputs, constant outputs): writing
    // would change the model or fault on a read-only mapping, so numpy must refuse.
    arr.attr("flags").attr("writeable") = false;
  }
  return arr;
}

}  // namespace r1::py_bridge

namespace r1::py_bridge {

// An array, or the engine's tagged forms of the ONNX sequence and optional values (input_check.py
// builds them): ("sequence", dtype, [arrays]) and ("none", dtype, of_sequence).
Tensor value_from_python(const py::object& v) {
  if (py::isinstance<py::tuple>(v)) {
    auto t = v.cast<py::tuple>();
    R1_CHECK(t.size() == 3, InputError) << "a tagged input must be (kind, dtype, value)";
    std::string kind = t[0].cast<std::string>();
    DType dt = dtype_from_name(t[1].cast<std::string>());
    if (kind == "none") return Tensor::none(dt, t[2].cast<bool>());
    R1_CHECK(kind == "sequence", InputError) << "unknown tagged input kind '" << kind << "'";
    std::vector<Tensor> items;
    for (py::handle a : t[2].cast<py::list>())
      items.push_back(tensor_from_array(py::array::ensure(a, py::array::c_style)).clone());
    return Tensor::sequence(dt, std::move(items));
  }
  return tensor_from_array(v.cast<py::array>());
}

py::object value_to_python(const Tensor& t) {
  if (t.is_none()) return py::none();
  if (t.is_sequence()) {
    py::list l;
    for (const Tensor& e : t.items()) l.append(array_from_tensor(e));
    return l;
  }
  return array_from_tensor(t);
}

}  // namespace r1::py_bridge
