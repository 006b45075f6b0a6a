// A Tensor is a dtype, a static shape and a view into a Buffer (row-major, contiguous).
// Copies of a Tensor share the buffer; reshape() makes a view without copying.
//
//   Tensor t = Tensor::empty(DType::Float32, {2, 3});
//   float* p = t.data<float>();
//   Tensor v = t.reshape({3, 2});   // same memory
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "r1/core/buffer.h"
#include "r1/core/dtype.h"
#include "r1/core/shape.h"

namespace r1 {

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t byte_offset = 0);

  // Fresh host memory, contents uninitialised.
  static Tensor empty(DType dtype, const Shape& shape);
  static Tensor zeros(DType dtype, const Shape& shape);
  // A scalar or 1-D int64 tensor from values (used for shape tensors).
  static Tensor from_int64(const std::vector<int64_t>& v, bool scalar = false);

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[normalize_axis(i, rank())]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  size_t byte_offset() const { return offset_; }

  void* raw() const { return buffer_ ? static_cast<char*>(buffer_->data()) + offset_ : nullptr; }
  template <class T>
  T* data() const {
    R1_CHECK(dtype_ == dtype_of<T>::value, InternalError)
        << "tensor of " << dtype_name(dtype_) << " read as " << dtype_name(dtype_of<T>::value);
    return static_cast<T*>(raw());
  }

  // A view with a new shape of the same element count.
  Tensor reshape(const Shape& shape) const;
  // A deep copy into fresh host memory.
  Tensor clone() const;
  // Integer tensor contents as int64 (for shape/axes/index inputs of any integer dtype).
  std::vector<int64_t> to_int64_vector() const;
  // Element i of any numeric dtype as double (slow; for scalars and tests).
  double scalar_as_double(int64_t i = 0) const;

  std::string describe() const;  // "float32[2, 3]"

  // ONNX sequence and optional values. A sequence holds its elements, each in memory of its own (never
  // an arena's: the ops that build one copy what they insert); its dtype is the elements', its shape
  // {0} (no bytes of its own). An empty optional ("none") has only a dtype and the none flag; an
  // optional with a value is that value.
  static Tensor sequence(DType elem, std::vector<Tensor> items);
  static Tensor none(DType elem, bool of_sequence);
  bool is_sequence() const { return seq_ != nullptr; }
  bool is_none() const { return none_; }
  bool none_of_sequence() const { return none_seq_; }
  const std::vector<Tensor>& items() const;

 private:
  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
  std::shared_ptr<const std::vector<Tensor>> seq_;
  bool none_ = false, none_seq_ = false;
};

}  // namespace r1
