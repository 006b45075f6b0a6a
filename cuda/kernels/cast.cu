// Cast and CastLike on the GPU, with the CPU kernel's conversions: floats truncate toward zero into integers
// (NaN -> 0, out of range saturates), anything -> bool is "!= 0", integers narrow by wrapping,
// integers go to 16-bit floats through float.
#include <type_traits>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

template <class S>
struct IntT {
  using storage = S;
};
struct BoolT {
  using storage = uint8_t;  // r1 stores bool as one byte
};

template <class T>
constexpr bool kFloatTag = std::is_same_v<T, F32> || std::is_same_v<T, F16> || std::is_same_v<T, BF16>;

// Integer limits as floats (no std::numeric_limits in device code): lo is exact, hi is max + 1
// rounded to float (a power of two), which is where saturation starts.
template <class I>
struct Lim;
template <>
struct Lim<int8_t> {
  static constexpr float lo = -128.0f, hi = 127.0f;
  static constexpr int8_t min = -128, max = 127;
};
template <>
struct Lim<uint8_t> {
  static constexpr float lo = 0.0f, hi = 255.0f;
  static constexpr uint8_t min = 0, max = 255;
};
template <>
struct Lim<int32_t> {
  static constexpr float lo = -2147483648.0f, hi = 2147483648.0f;
  static constexpr int32_t min = INT32_MIN, max = INT32_MAX;
};
template <>
struct Lim<int64_t> {
  static constexpr float lo = -9223372036854775808.0f, hi = 9223372036854775808.0f;
  static constexpr int64_t min = INT64_MIN, max = INT64_MAX;
};

template <class I>
__device__ inline I float_to_int(float f) {
  if (f != f) return I(0);  // NaN
  if (f >= Lim<I>::hi) return Lim<I>::max;
  if (f <= Lim<I>::lo) return Lim<I>::min;
  return static_cast<I>(f);  // truncates toward zero; in range here
}

template <class D, class S>
__device__ inline typename D::storage cast_one(typename S::storage s) {
  using DS = typename D::storage;
  if constexpr (kFloatTag<S>) {
    const float v = S::load(s);
    if constexpr (std::is_same_v<D, BoolT>)
      return static_cast<DS>(v != 0.0f);
    else if constexpr (kFloatTag<D>)
      return D::store(v);
    else
      return float_to_int<DS>(v);
  } else {
    // Integers and bool (a byte that is 0 or 1).
    using V = std::conditional_t<std::is_same_v<S, BoolT>, int32_t, typename S::storage>;
    const V v = std::is_same_v<S, BoolT> ? static_cast<V>(s != 0) : static_cast<V>(s);
    if constexpr (std::is_same_v<D, BoolT>)
      return static_cast<DS>(v != 0);
    else if constexpr (kFloatTag<D>)
      return D::store(static_cast<float>(v));
    else
      return static_cast<DS>(v);  // wraps when narrowing
  }
}

template <class S, class D>
__global__ void cast_kernel(const typename S::storage* x, typename D::storage* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = cast_one<D, S>(x[i]);
}

bool cast_type(DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int8:
    case DType::UInt8:
    case DType::Int32:
    case DType::Int64:
    case DType::Bool:
      return true;
    default:
      return false;
  }
}

template <class F>
void dispatch_cast_type(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      f(F32{});
      return;
    case DType::Float16:
      f(F16{});
      return;
    case DType::BFloat16:
      f(BF16{});
      return;
    case DType::Int8:
      f(IntT<int8_t>{});
      return;
    case DType::UInt8:
      f(IntT<uint8_t>{});
      return;
    case DType::Int32:
      f(IntT<int32_t>{});
      return;
    case DType::Int64:
      f(IntT<int64_t>{});
      return;
    case DType::Bool:
      f(BoolT{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "Cast on " R1_GPU_BACKEND_NAME " does not support " << dtype_name(t);
}

void cast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  DType to = ctx.output_dtype(0);
  if (to == DType::Undefined)
    to = ctx.node().op_type == "CastLike" ? ctx.input(1).dtype() : static_cast<DType>(ctx.attrs().get_int("to", 0));
  if (to == x.dtype()) {
    ctx.set_output(0, x);  // no conversion: a view of the input
    return;
  }
  Tensor& y = ctx.output(0);
  const int64_t n = x.numel();
  if (n == 0) return;
  KernelLaunch env(ctx);
  dispatch_cast_type(x.dtype(), [&](auto stag) {
    using S = decltype(stag);
    dispatch_cast_type(to, [&](auto dtag) {
      using D = decltype(dtag);
      cast_kernel<S, D><<<blocks_for(n), kThreads, 0, env.stream()>>>(static_cast<const typename S::storage*>(x.raw()),
                                                                      static_cast<typename D::storage*>(y.raw()), n);
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// Exactly the pairs cast() handles: both dtypes among the eight above.
bool cast_supported(const Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || n.outputs.empty() || !n.outputs[0]) return false;
  return cast_type(n.inputs[0]->dtype) && cast_type(n.outputs[0]->dtype);
}

}  // namespace

void register_cast_kernels(KernelTable& t) {
  t.add("Cast", cast, "", 0, cast_supported);
  t.add("CastLike", cast, "", 0, cast_supported);
}
}  // namespace r1::gpu
