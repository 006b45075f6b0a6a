// The KServe JSON number reader (r1/wire/json_arrays.h) for kserve/json_numbers.py.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string_view>

#include "bind.h"
#include "gil.h"
#include "r1/wire/json_arrays.h"
#include "r1/wire/json_numbers_out.h"

namespace r1::bindings {
namespace {

std::string_view view_of(const py::buffer_info& info) {
  return {static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize)};
}

// A numpy array that owns the vector's memory (no copy).
template <class T>
py::bytes array_text(const py::array& a) {
  auto c = py::array_t<T, py::array::c_style>::ensure(a);
  if (!c) throw py::type_error("json_array_text: the array could not be viewed as its own dtype");
  const T* p = c.data();
  const auto n = static_cast<size_t>(c.size());
  std::string s = without_gil([&] { return wire::json_array_text(p, n); });
  return py::bytes(s);
}

template <class T>
py::array hand_over(std::vector<T>&& v) {
  auto owner = std::make_unique<std::vector<T>>(std::move(v));
  const T* data = owner->data();
  const auto n = static_cast<py::ssize_t>(owner->size());
  py::capsule free(owner.get(), [](void* p) { std::unique_ptr<std::vector<T>>(static_cast<std::vector<T>*>(p)); });
  owner.release();  // the capsule owns it now
  return py::array_t<T>({n}, {static_cast<py::ssize_t>(sizeof(T))}, data, free);
}

}  // namespace

void bind_wire(py::module_& m) {
  m.def(
      "json_array_text",
      [](const py::array& a) -> py::bytes {
        const char kind = a.dtype().kind();
        const auto size = a.dtype().itemsize();
        if (kind == 'b') return array_text<bool>(a);
        if (kind == 'f' && size == 4) return array_text<float>(a);
        if (kind == 'f' && size == 8) return array_text<double>(a);
        if (kind == 'i' && size == 4) return array_text<int32_t>(a);
        if (kind == 'i' && size == 8) return array_text<int64_t>(a);
        if (kind == 'u' && size == 8) return array_text<uint64_t>(a);
        throw py::type_error("json_array_text takes bool, int32, int64, uint64, float32 or float64 arrays");
      },
      py::arg("array"),
      "The flat JSON array text of a numeric array (shortest round-trip floats; NaN/Infinity as strings)");
  m.def(
      "json_data_spans",
      [](const py::buffer& json) {
        py::buffer_info info = json.request();
        std::vector<wire::Span> spans = without_gil([&] { return wire::find_data_arrays(view_of(info)); });
        py::list out;
        for (const wire::Span& s : spans) out.append(py::make_tuple(s.begin, s.end));
        return out;
      },
      py::arg("json"), "[(begin, end)] of each array that is the value of a \"data\" key (ValueError: unterminated)");
  m.def(
      "json_number_array",
      [](const py::buffer& json, size_t begin, size_t end) -> py::tuple {
        py::buffer_info info = json.request();
        std::string_view all = view_of(info);
        if (begin > end || end > all.size()) throw py::value_error("span outside the buffer");
        wire::NumberArray a = without_gil([&] { return wire::parse_number_array(all.substr(begin, end - begin)); });
        switch (a.kind) {
          case wire::NumberArray::Int:
            return py::make_tuple("int", hand_over(std::move(a.ints)), a.shape);
          case wire::NumberArray::Float:
            return py::make_tuple("float", hand_over(std::move(a.floats)), a.shape);
          case wire::NumberArray::Bool:
            return py::make_tuple("bool", hand_over(std::move(a.bools)), a.shape);
          default:
            return py::make_tuple("other", py::none(), py::none());
        }
      },
      py::arg("json"), py::arg("begin"), py::arg("end"),
      "(kind, flat array, nesting) of the JSON array json[begin:end]: kind 'int' (int64), 'float' (float64), "
      "'bool' (uint8), or 'other' (strings, objects, integers past 64 bits: parse it with json.loads); "
      "ValueError for ragged nesting or an invalid number");
}

}  // namespace r1::bindings
