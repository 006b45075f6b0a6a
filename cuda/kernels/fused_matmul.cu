// r1::FusedMatMul (float32 / float16 / bfloat16; contract: cpp/r1/passes/README.md) on the one tiled
// kernel of gemm_tile.cuh:
//   FusedMatMul  Y = act(alpha * A @ op(B) + bias + residual): A's leading dims fold into M, B is 2-D
//                ([K, N], or [N, K] with trans_b), residual broadcast to Y. packed_b=1 is a CPU weight
//                layout: the predicate keeps such nodes on the CPU.
#include <string>
#include <vector>

#include "families.h"
#include "matmul_util.cuh"

namespace r1::gpu {
namespace {

using gemm::Act;
using gemm::broadcast_strides;
using gemm::check_output;
using gemm::dispatch;
using gemm::GemmArgs;
using gemm::GemmPtrs;
using gemm::gpu_float;
using gemm::IndexWalk;
using gemm::merge_walk;
using gemm::one_float_dtype;
using gemm::set_addend;

struct ActName {
  const char* name;
  Act act;
};
constexpr ActName kActs[] = {{"", Act::None},
                             {"Relu", Act::Relu},
                             {"Gelu", Act::Gelu},
                             {"GeluTanh", Act::GeluTanh},
                             {"Sigmoid", Act::Sigmoid},
                             {"Silu", Act::Silu},
                             {"Tanh", Act::Tanh},
                             {"HardSigmoid", Act::HardSigmoid},
                             {"HardSwish", Act::HardSwish},
                             {"Clip", Act::Clip},
                             {"LeakyRelu", Act::LeakyRelu}};

bool parse_act(const std::string& s, Act* act) {
  for (const ActName& a : kActs)
    if (s == a.name) {
      *act = a.act;
      return true;
    }
  return false;
}

void fused_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const AttributeMap& at = ctx.attrs();
  R1_CHECK(at.get_int("packed_b", 0) == 0, ModelError)
      << "FusedMatMul: packed_b=1 is a CPU weight layout; the " R1_GPU_BACKEND_NAME
         " kernel needs a plain 2-D B (the node belongs on the CPU)";
  GemmArgs p;
  const std::string act = at.get_string("activation", "");
  R1_CHECK(parse_act(act, &p.act), ModelError) << "FusedMatMul: unknown activation \"" << act << "\"";
  // act_alpha / act_beta with the defaults of the ONNX op each activation stands for (as on the CPU).
  float da = 0.f, db = 0.f;
  if (p.act == Act::HardSigmoid) da = 0.2f, db = 0.5f;
  if (p.act == Act::LeakyRelu) da = 0.01f;
  if (p.act == Act::Clip) da = -INFINITY, db = INFINITY;
  p.act_alpha = at.get_float("act_alpha", da);
  p.act_beta = at.get_float("act_beta", db);
  p.alpha = at.get_float("alpha", 1.f);
  const bool tb = at.get_int("trans_b", 0) != 0;

  check_same_dtype(ctx, a, b);
  R1_CHECK(a.rank() >= 1, InputError) << "FusedMatMul: A must be at least 1-D, got " << a.describe();
  R1_CHECK(b.rank() == 2, InputError) << "FusedMatMul: B must be 2-D, got " << b.describe();
  const Shape& bs = b.shape();
  p.K = a.shape().back();
  p.M = numel(Shape(a.shape().begin(), a.shape().end() - 1));  // 1 for a 1-D A
  p.N = tb ? bs[0] : bs[1];
  const int64_t kb = tb ? bs[1] : bs[0];
  R1_CHECK(kb == p.K, InputError) << "FusedMatMul: inner dimensions differ (" << a.describe() << " x " << b.describe()
                                  << (tb ? "^T" : "") << ")";
  p.a_rs = p.K;
  p.a_cs = 1;
  p.b_rs = tb ? 1 : p.N;
  p.b_cs = tb ? p.K : 1;
  Tensor& y = ctx.output(0);
  check_output(y, p, "FusedMatMul");
  const Tensor* bias = ctx.has_input(2) && ctx.input(2).numel() > 0 ? &ctx.input(2) : nullptr;
  const Tensor* res = ctx.has_input(3) && ctx.input(3).numel() > 0 ? &ctx.input(3) : nullptr;
  if (bias) {
    check_same_dtype(ctx, a, *bias);
    R1_CHECK(bias->numel() == p.N, InputError)
        << "FusedMatMul: bias " << bias->describe() << " must hold N=" << p.N << " values";
  }
  if (res) {
    check_same_dtype(ctx, a, *res);
    set_addend(p, y.shape(), res->shape(), "FusedMatMul", "residual");
  }
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch(a, "FusedMatMul", [&](auto tag) {
    using T = decltype(tag);
    GemmPtrs<T> q;
    q.a = data_of<T>(a);
    q.b = data_of<T>(b);
    q.bias = bias ? data_of<T>(*bias) : nullptr;
    q.add = res ? data_of<T>(*res) : nullptr;
    q.y = data_of<T>(y);
    gemm::launch_gemm<T>(p, q, env.stream());
  });
}

bool fused_matmul_supported(const Node& n) {
  Act act;
  return n.attrs.get_int("packed_b", 0) == 0 && parse_act(n.attrs.get_string("activation", ""), &act) &&
         one_float_dtype(n);
}

}  // namespace

void register_fused_matmul_kernels(KernelTable& t) {
  t.add("FusedMatMul", fused_matmul, "r1", 0, fused_matmul_supported);
}
}  // namespace r1::gpu
