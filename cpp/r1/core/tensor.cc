#include "r1/core/tensor.h"

#include <algorithm>
#include <cstring>

namespace r1 {

Tensor::Tensor(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer, size_t byte_offset)
    : dtype_(dtype), shape_(std::move(shape)), buffer_(std::move(buffer)), offset_(byte_offset) {
  numel_ = r1::numel(shape_);
  uint64_t bytes = 0;
  R1_CHECK(checked_nbytes(shape_, dtype_size(dtype_), &bytes), InputError)
      << "a " << dtype_name(dtype_) << " tensor of shape " << shape_str(shape_) << " is too large";
  if (buffer_) {
    R1_CHECK(offset_ + nbytes() <= buffer_->size(), InternalError)
        << "tensor " << describe() << " at offset " << offset_ << " overruns a buffer of " << buffer_->size()
        << " bytes";
  }
}

Tensor Tensor::empty(DType dtype, const Shape& shape) {
  uint64_t bytes = 0;
  R1_CHECK(checked_nbytes(shape, dtype_size(dtype), &bytes), InputError)
      << "a " << dtype_name(dtype) << " tensor of shape " << shape_str(shape) << " is too large";
  if (dtype == DType::String)  // constructed (empty) strings
    return Tensor(dtype, shape, std::make_shared<StringBuffer>(static_cast<size_t>(r1::numel(shape))));
  return Tensor(dtype, shape, HostBuffer::allocate(bytes));
}

Tensor Tensor::zeros(DType dtype, const Shape& shape) {
  Tensor t = empty(dtype, shape);
  if (t.nbytes() && dtype != DType::String) std::memset(t.raw(), 0, t.nbytes());  // strings start empty
  return t;
}

Tensor Tensor::from_int64(const std::vector<int64_t>& v, bool scalar) {
  Tensor t = empty(DType::Int64, scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())});
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(int64_t));
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  R1_CHECK(r1::numel(shape) == numel_, InputError) << "cannot reshape " << describe() << " to " << shape_str(shape);
  return Tensor(dtype_, shape, buffer_, offset_);
}

Tensor Tensor::clone() const {
  if (seq_ || none_) return *this;  // immutable: their elements are copies of their own already
  Tensor t = empty(dtype_, shape_);
  if (dtype_ == DType::String) {
    std::copy(data<std::string>(), data<std::string>() + numel_, t.data<std::string>());
    return t;
  }
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  R1_CHECK(is_integer(dtype_) || dtype_ == DType::Bool, InputError) << "expected an integer tensor, got " << describe();
  dispatch_all(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(raw());
    for (int64_t i = 0; i < numel_; ++i) out[i] = convert<int64_t>(p[i]);
  });
  return out;
}

double Tensor::scalar_as_double(int64_t i) const {
  R1_CHECK(i < numel_, InputError) << "index " << i << " out of range for " << describe();
  return dispatch_all(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    return convert<double>(static_cast<const T*>(raw())[i]);
  });
}

std::string Tensor::describe() const {
  if (seq_) return "sequence(" + std::string(dtype_name(dtype_)) + ")[" + std::to_string(seq_->size()) + "]";
  if (none_) return std::string(none_seq_ ? "optional sequence(" : "optional(") + dtype_name(dtype_) + "): none";
  return std::string(dtype_name(dtype_)) + shape_str(shape_);
}

Tensor Tensor::sequence(DType elem, std::vector<Tensor> items) {
  for (const Tensor& t : items)
    R1_CHECK(t.dtype() == elem && !t.is_sequence() && !t.is_none(), InputError)
        << "a sequence of " << dtype_name(elem) << " cannot hold " << t.describe();
  Tensor s;
  s.dtype_ = elem;
  s.shape_ = {0};
  s.seq_ = std::make_shared<const std::vector<Tensor>>(std::move(items));
  return s;
}

Tensor Tensor::none(DType elem, bool of_sequence) {
  Tensor s;
  s.dtype_ = elem;
  s.shape_ = {0};
  s.none_ = true;
  s.none_seq_ = of_sequence;
  return s;
}

const std::vector<Tensor>& Tensor::items() const {
  R1_CHECK(seq_ != nullptr, InputError) << "expected a sequence, got " << describe();
  return *seq_;
}

}  // namespace r1
