// Logic and bit ops on the GPU: And, Or, Xor (bool, numpy broadcasting), Not (bool) and BitShift
// (int8 / uint8 / int32 / int64, like the CPU kernel; ONNX itself only defines unsigned types).
//
// All of them are instantiations of the one elementwise template (elementwise.cuh) with element
// types of their own: bool is read as a byte (any non-zero byte is true) and written as 0 / 1;
// the integer types load and store themselves unchanged.
//
// BitShift follows the CPU kernel: shifts by an amount outside [0, bits) give 0 (LEFT) or the sign
// fill (RIGHT: arithmetic for signed types); LEFT shifts in the unsigned type, so they wrap.
#include <type_traits>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

struct BoolT {
  using storage = uint8_t;
  __device__ static bool load(uint8_t v) { return v != 0; }
  __device__ static uint8_t store(bool v) { return v ? 1 : 0; }
};

template <class V>
struct IntT {
  using storage = V;
  __device__ static V load(V v) { return v; }
  __device__ static V store(V v) { return v; }
};
using I8 = IntT<int8_t>;
using U8 = IntT<uint8_t>;
using I32 = IntT<int32_t>;
using I64 = IntT<int64_t>;

struct AndOp {
  __device__ bool operator()(bool a, bool b) const { return a && b; }
};
struct OrOp {
  __device__ bool operator()(bool a, bool b) const { return a || b; }
};
struct XorOp {
  __device__ bool operator()(bool a, bool b) const { return a != b; }
};
struct NotOp {
  __device__ bool operator()(bool a) const { return !a; }
};

template <class V, bool kLeft>
struct ShiftOp {
  __device__ V operator()(V u, V v) const {
    using U = std::make_unsigned_t<V>;
    constexpr int64_t bits = 8 * sizeof(V);
    const int64_t k = static_cast<int64_t>(v);
    if (kLeft) {
      if (k < 0 || k >= bits) return V(0);
      return static_cast<V>(static_cast<U>(static_cast<U>(u) << k));
    }
    if (k < 0 || k >= bits) {
      if constexpr (std::is_signed_v<V>)
        return u < V(0) ? V(-1) : V(0);
      else
        return V(0);
    }
    return static_cast<V>(u >> k);
  }
};

bool all_bool(const Node& n) {
  if (n.inputs.empty() || n.outputs.empty()) return false;
  for (const Value* v : n.inputs)
    if (!v || v->dtype != DType::Bool) return false;
  for (const Value* v : n.outputs)
    if (v && v->dtype != DType::Bool) return false;
  return true;
}

bool shift_type(DType t) { return t == DType::Int8 || t == DType::UInt8 || t == DType::Int32 || t == DType::Int64; }

bool bitshift_supported(const Node& n) {
  if (n.inputs.size() != 2 || !n.inputs[0] || !n.inputs[1] || n.outputs.empty() || !n.outputs[0]) return false;
  const DType t = n.inputs[0]->dtype;
  return shift_type(t) && n.inputs[1]->dtype == t && n.outputs[0]->dtype == t;
}

void check_bool(const KernelContext& ctx, const Tensor& t) {
  R1_CHECK(t.dtype() == DType::Bool, InputError)
      << ctx.node().op_type << " on " R1_GPU_BACKEND_NAME " needs bool tensors, got " << dtype_name(t.dtype());
}

template <class Op>
void logic_binary(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_bool(ctx, a);
  check_bool(ctx, b);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  launch_binary<BoolT, BoolT>(a, b, y, Op{}, env.stream());
}

void not_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  check_bool(ctx, x);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  launch_unary<BoolT, BoolT>(x, y, NotOp{}, env.stream());
}

template <class T, bool kLeft>
void launch_shift(const Tensor& a, const Tensor& b, Tensor& y, gpuStream_t s) {
  launch_binary<T, T>(a, b, y, ShiftOp<typename T::storage, kLeft>{}, s);
}

void bitshift(KernelContext& ctx) {
  const std::string dir = ctx.attrs().get_string("direction", "LEFT");
  R1_CHECK(dir == "LEFT" || dir == "RIGHT", ModelError) << "BitShift: direction '" << dir << "' is not supported";
  const bool left = dir == "LEFT";
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  Tensor& y = ctx.output(0);
  KernelLaunch env(ctx);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (left)
      launch_shift<T, true>(a, b, y, env.stream());
    else
      launch_shift<T, false>(a, b, y, env.stream());
  };
  switch (a.dtype()) {
    case DType::Int8:
      run(I8{});
      return;
    case DType::UInt8:
      run(U8{});
      return;
    case DType::Int32:
      run(I32{});
      return;
    case DType::Int64:
      run(I64{});
      return;
    default:
      break;
  }
  R1_THROW(InputError) << "BitShift on " R1_GPU_BACKEND_NAME " supports int8, uint8, int32 and int64, got "
                       << dtype_name(a.dtype());
}

}  // namespace

void register_logic_kernels(KernelTable& t) {
  t.add("And", logic_binary<AndOp>, "", 0, all_bool);
  t.add("Or", logic_binary<OrOp>, "", 0, all_bool);
  t.add("Xor", logic_binary<XorOp>, "", 0, all_bool);
  t.add("Not", not_kernel, "", 0, all_bool);
  t.add("BitShift", bitshift, "", 0, bitshift_supported);
}
}  // namespace r1::gpu
