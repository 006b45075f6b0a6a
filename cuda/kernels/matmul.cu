// MatMul, Gemm and r1::FusedMatMul (float32 / float16 / bfloat16) on the one tiled kernel of
// gemm_tile.cuh. Each entry only maps its op onto GemmArgs:
//   MatMul       numpy matmul: 1-D operands promoted (the added dim is absent from Y, whose memory
//                is the same), batch dims broadcast through a walk; a B without batch folds A's batch
//                into M (A's rows stack).
//   Gemm         transA / transB as strides, alpha, beta * C with C unidirectionally broadcast to
//                [M, N] (C is dropped when beta == 0, as on the CPU).
//   FusedMatMul  Y = act(alpha * A @ op(B) + bias + residual): A's leading dims fold into M, B is 2-D
//                ([K, N], or [N, K] with trans_b), residual broadcast to Y. packed_b=1 is a CPU weight
//                layout: the predicate keeps such nodes on the CPU.
#include <string>
#include <vector>

#include "elementwise.cuh"
#include "families.h"
#include "gemm_tile.cuh"

namespace r1::gpu {
namespace {

using gemm::Act;
using gemm::GemmArgs;
using gemm::GemmPtrs;
using gemm::IndexWalk;

bool gpu_float(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

// Dims with one or two stride vectors (elements), dims of 1 dropped and neighbours merged where
// both strides continue each other (a contiguous batch becomes one dim).
IndexWalk merge_walk(const Shape& dims, const std::vector<int64_t>& s0, const std::vector<int64_t>& s1,
                     const char* op) {
  IndexWalk w;
  for (size_t o = 0; o < dims.size(); ++o) {
    if (dims[o] == 1) continue;
    if (w.rank > 0) {
      const int p = w.rank - 1;
      if (w.s0[p] == s0[o] * dims[o] && w.s1[p] == s1[o] * dims[o]) {
        w.dims[p] *= dims[o];
        w.s0[p] = s0[o];
        w.s1[p] = s1[o];
        continue;
      }
    }
    R1_CHECK(w.rank < gemm::kMaxWalkRank, InputError)
        << op << ": broadcast over more than " << gemm::kMaxWalkRank << " non-mergeable dims";
    w.dims[w.rank] = dims[o];
    w.s0[w.rank] = s0[o];
    w.s1[w.rank] = s1[o];
    ++w.rank;
  }
  return w;
}

// Strides (in elements times `unit`) with which a contiguous tensor of shape `in` is read along
// `out` under numpy broadcasting (right-aligned; 0 along broadcast or missing dims).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out, int64_t unit) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = unit;
  for (int d = static_cast<int>(in.size()) - 1, o = static_cast<int>(out.size()) - 1; d >= 0 && o >= 0; --d, --o) {
    s[o] = in[d] == 1 && out[o] != 1 ? 0 : stride;
    stride *= in[d];
  }
  return s;
}

// The addend r (Gemm's C, FusedMatMul's residual) broadcast to Y = [lead..., N] without changing
// Y's shape: offset(m, n) = row walk(m) + n * add_cs.
void set_addend(GemmArgs& p, const Shape& y, const Shape& r, const char* op, const char* what) {
  bool fits = !y.empty() && r.size() <= y.size();
  for (size_t i = 0; fits && i < r.size(); ++i) {
    const int64_t rd = r[r.size() - 1 - i], yd = y[y.size() - 1 - i];
    fits = rd == 1 || rd == yd;
  }
  R1_CHECK(fits, InputError) << op << ": " << what << " of shape " << shape_str(r)
                             << " does not broadcast to the output " << shape_str(y);
  std::vector<int64_t> s = broadcast_strides(r, y, 1);
  p.add_cs = s.back();
  Shape lead(y.begin(), y.end() - 1);
  s.pop_back();
  p.add_walk = merge_walk(lead, s, std::vector<int64_t>(lead.size(), 0), op);
}

void check_output(const Tensor& y, const GemmArgs& p, const char* op) {
  R1_CHECK(y.numel() == p.batch * p.M * p.N, ModelError) << op << ": output " << y.describe() << " does not hold "
                                                         << p.batch << " x " << p.M << " x " << p.N << " elements";
}

template <class F>
void dispatch(const Tensor& a, const char* op, F&& f) {
  dispatch_float_types(a.dtype(), op, std::forward<F>(f));
}

// ---- MatMul --------------------------------------------------------------------------------------
void matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  R1_CHECK(a.rank() >= 1 && b.rank() >= 1, InputError)
      << "MatMul: operands must be at least 1-D (got rank " << a.rank() << " and " << b.rank() << ")";
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  GemmArgs p;
  p.M = as[as.size() - 2];
  p.K = as.back();
  p.N = bs.back();
  R1_CHECK(bs[bs.size() - 2] == p.K, InputError)
      << "MatMul: inner dimensions differ (" << shape_str(a.shape()) << " x " << shape_str(b.shape()) << ")";
  const Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  const Shape ob = broadcast_shapes(ab, bb);  // InputError when the batch dims do not broadcast
  p.a_rs = p.K;
  p.a_cs = 1;
  p.b_rs = p.N;
  p.b_cs = 1;
  if (numel(bb) == 1) {
    p.M *= numel(ab);  // one B for every batch: A's matrices stack into one
  } else {
    p.batch = numel(ob);
    p.batch_walk = merge_walk(ob, broadcast_strides(ab, ob, p.M * p.K), broadcast_strides(bb, ob, p.K * p.N), "MatMul");
  }
  Tensor& y = ctx.output(0);
  check_output(y, p, "MatMul");
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch(a, "MatMul", [&](auto tag) {
    using T = decltype(tag);
    GemmPtrs<T> q;
    q.a = data_of<T>(a);
    q.b = data_of<T>(b);
    q.y = data_of<T>(y);
    gemm::launch_gemm<T>(p, q, env.stream());
  });
}

// ---- Gemm ----------------------------------------------------------------------------------------
void gemm_op(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_same_dtype(ctx, a, b);
  R1_CHECK(a.rank() == 2 && b.rank() == 2, InputError)
      << "Gemm: A and B must be 2-D (got rank " << a.rank() << " and " << b.rank() << ")";
  const AttributeMap& at = ctx.attrs();
  const bool ta = at.get_int("transA", 0) != 0, tb = at.get_int("transB", 0) != 0;
  const float alpha = at.get_float("alpha", 1.f), beta = at.get_float("beta", 1.f);
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  GemmArgs p;
  p.M = ta ? as[1] : as[0];
  p.K = ta ? as[0] : as[1];
  p.N = tb ? bs[0] : bs[1];
  const int64_t kb = tb ? bs[1] : bs[0];
  R1_CHECK(kb == p.K, InputError) << "Gemm: inner dimensions differ (" << shape_str(as) << (ta ? "^T" : "") << " x "
                                  << shape_str(bs) << (tb ? "^T" : "") << ")";
  // A(m, k) is As[m][k], or As[k][m] with transA; likewise B(k, n).
  p.a_rs = ta ? 1 : as[1];
  p.a_cs = ta ? as[1] : 1;
  p.b_rs = tb ? 1 : bs[1];
  p.b_cs = tb ? bs[1] : 1;
  p.alpha = alpha;
  const Tensor* c = ctx.has_input(2) && ctx.input(2).numel() > 0 ? &ctx.input(2) : nullptr;
  if (c) {
    check_same_dtype(ctx, a, *c);
    R1_CHECK(c->rank() <= 2, InputError) << "Gemm: C must have rank <= 2, got " << c->rank();
    set_addend(p, Shape{p.M, p.N}, c->shape(), "Gemm", "C");
    p.add_scale = beta;
    if (beta == 0.f) c = nullptr;  // as on the CPU: 0 * C is dropped, NaN or not
  }
  Tensor& y = ctx.output(0);
  check_output(y, p, "Gemm");
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  dispatch(a, "Gemm", [&](auto tag) {
    using T = decltype(tag);
    GemmPtrs<T> q;
    q.a = data_of<T>(a);
    q.b = data_of<T>(b);
    q.add = c ? data_of<T>(*c) : nullptr;
    q.y = data_of<T>(y);
    gemm::launch_gemm<T>(p, q, env.stream());
  });
}

// ---- r1::FusedMatMul -----------------------------------------------------------------------------
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

// ---- predicates: every present input and output of one GPU float dtype ---------------------------
bool one_float_dtype(const Node& n) {
  const Value* a = n.input(0);
  if (!a || !gpu_float(a->dtype)) return false;
  for (const Value* v : n.inputs)
    if (v && v->dtype != a->dtype) return false;
  for (const Value* v : n.outputs)
    if (v && v->dtype != a->dtype) return false;
  return true;
}

bool fused_matmul_supported(const Node& n) {
  Act act;
  return n.attrs.get_int("packed_b", 0) == 0 && parse_act(n.attrs.get_string("activation", ""), &act) &&
         one_float_dtype(n);
}

}  // namespace

void register_gemm_kernels(KernelTable& t) {
  t.add("MatMul", matmul, "", 0, one_float_dtype);
  t.add("Gemm", gemm_op, "", 0, one_float_dtype);
  t.add("FusedMatMul", fused_matmul, "r1", 0, fused_matmul_supported);
}
}  // namespace r1::gpu
