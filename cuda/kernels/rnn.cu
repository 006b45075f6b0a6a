// RNN, GRU and LSTM (float32 / float16 / bfloat16 storage, fp32 math and fp32 recurrent state).
//
// Semantics follow the CPU kernel (cpp/r1/cpu/kernels/rnn.cc): gate order i,o,f,c (LSTM) and
// z,r,h (GRU); directions forward / reverse / bidirectional; sequence_lens (read on the host and
// uploaded through kernel arguments, no synchronisation); initial_h / initial_c; peepholes P;
// clip; input_forget; GRU linear_before_reset; layout 0 / 1 (opset >= 14); the CPU's activation
// set with its alpha / beta consumption order. Steps t >= sequence_lens[b] write zeros to Y, and a
// batch entry of length 0 gets zero final states (as onnxruntime and the CPU kernel do).
//
// The time loop runs on the host, one step for every direction at once:
//   rnn_gates:  one thread per (dir, batch, gate row): x_t . W[row] + h_{t-1} . R[row] + biases
//               (GRU without linear_before_reset: the h gate gets only x . Wh + Wbh + Rbh here;
//               GRU with it: h . Rh + Rbh goes to a separate buffer, to be scaled by r).
//   gru_rh:     GRU without linear_before_reset only: r = f(clip(r_pre)), rh = r * h_{t-1}.
//   rnn_update: one thread per (dir, batch, hidden unit): clip, activations, cell update, Y.
// Simple rather than fast (a dot product per thread; no GEMM, no fusion across steps): every
// intermediate lives in device scratch from ctx.allocator().
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

enum ActKind : int {
  kSigmoid,
  kTanh,
  kRelu,
  kHardSigmoid,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kElu,
  kSoftsign,
  kSoftplus
};

struct Act {
  int kind = kSigmoid;
  float alpha = 0.f, beta = 0.f;
};

constexpr int kMaxActs = 6;  // 3 per direction (LSTM) x 2 directions

struct RnnParams {
  Act acts[kMaxActs];
  int per_dir_acts = 1;
  int G = 1;  // gates: 1 RNN, 3 GRU, 4 LSTM
  int D = 1;  // directions
  int reverse_only = 0;
  int layout = 0;
  int has_clip = 0;
  float clip = 0.f;
  int input_forget = 0;
  int lbr = 0;  // GRU linear_before_reset
  int64_t seq = 0, batch = 0, I = 0, H = 0;
};

__device__ inline float apply_act(const Act& a, float x) {
  switch (a.kind) {
    case kSigmoid:
      return 1.f / (1.f + expf(-x));
    case kTanh:
      return tanhf(x);
    case kRelu:
      return x > 0.f ? x : 0.f;
    case kHardSigmoid:
      return fminf(1.f, fmaxf(0.f, a.alpha * x + a.beta));
    case kAffine:
      return a.alpha * x + a.beta;
    case kLeakyRelu:
      return x >= 0.f ? x : a.alpha * x;
    case kThresholdedRelu:
      return x > a.alpha ? x : 0.f;
    case kScaledTanh:
      return a.alpha * tanhf(a.beta * x);
    case kElu:
      return x >= 0.f ? x : a.alpha * expm1f(x);
    case kSoftsign:
      return x / (1.f + fabsf(x));
    case kSoftplus:
      return x > 20.f ? x : log1pf(expf(x));
    default:
      return x;
  }
}

__device__ inline float clipf(const RnnParams& p, float x) { return p.has_clip ? fminf(p.clip, fmaxf(-p.clip, x)) : x; }

// Time index of step s for direction d.
__device__ inline int64_t step_time(const RnnParams& p, int d, int64_t s) {
  const bool rev = p.reverse_only || d == 1;
  return rev ? p.seq - 1 - s : s;
}

// Element offsets (first element of an H-vector).
__device__ inline int64_t x_row(const RnnParams& p, int64_t t, int64_t b) {
  return p.layout ? b * p.seq + t : t * p.batch + b;
}
__device__ inline int64_t y_off(const RnnParams& p, int64_t t, int d, int64_t b) {
  return p.layout ? ((b * p.seq + t) * p.D + d) * p.H : ((t * p.D + d) * p.batch + b) * p.H;
}
__device__ inline int64_t st_off(const RnnParams& p, int d, int64_t b) {
  return p.layout ? (b * p.D + d) * p.H : (d * p.batch + b) * p.H;
}

// Device copy of a small host int array: values travel as kernel arguments, kChunk at a time.
constexpr int kChunk = 256;
struct IntChunk {
  int32_t v[kChunk];
};
__global__ void write_chunk(int32_t* dst, IntChunk c, int n) {
  int i = threadIdx.x;
  if (i < n) dst[i] = c.v[i];
}

// h / c scratch [D, batch, H] from initial_h / initial_c (zeros where absent).
template <class T>
__global__ void rnn_init(RnnParams p, const typename T::storage* h0, const typename T::storage* c0, float* h,
                         float* c) {
  const int64_t n = p.D * p.batch * p.H;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i % p.H;
    const int64_t b = (i / p.H) % p.batch;
    const int d = static_cast<int>(i / (p.H * p.batch));
    const int64_t o = st_off(p, d, b) + j;
    h[i] = h0 ? T::load(h0[o]) : 0.f;
    if (c) c[i] = c0 ? T::load(c0[o]) : 0.f;
  }
}

// gates[d, b, g] (pre-activation) for g in [0, G*H); hr[d, b, j]: GRU linear_before_reset's h . Rh + Rbh.
template <class T>
__global__ void rnn_gates(RnnParams p, int64_t s, const typename T::storage* X, const typename T::storage* W,
                          const typename T::storage* R, const typename T::storage* B, const int32_t* lens,
                          const float* h, float* gates, float* hr) {
  const int64_t GH = p.G * p.H;
  const int64_t n = p.D * p.batch * GH;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t g = i % GH;
    const int64_t b = (i / GH) % p.batch;
    const int d = static_cast<int>(i / (GH * p.batch));
    const int64_t t = step_time(p, d, s);
    if (t >= lens[b]) continue;
    // Input part.
    const typename T::storage* x = X + x_row(p, t, b) * p.I;
    const typename T::storage* w = W + (d * GH + g) * p.I;
    float acc = 0.f;
    for (int64_t k = 0; k < p.I; ++k) acc += T::load(x[k]) * T::load(w[k]);
    float wb = 0.f, rb = 0.f;
    if (B) {
      wb = T::load(B[d * 2 * GH + g]);
      rb = T::load(B[d * 2 * GH + GH + g]);
    }
    const bool gru_h_row = p.G == 3 && g >= 2 * p.H;
    if (gru_h_row && !p.lbr) {  // the recurrent part needs r: added by rnn_update
      gates[i] = acc + wb + rb;
      continue;
    }
    // Recurrent part.
    const float* hv = h + (d * p.batch + b) * p.H;
    const typename T::storage* r = R + (d * GH + g) * p.H;
    float rec = 0.f;
    for (int64_t k = 0; k < p.H; ++k) rec += hv[k] * T::load(r[k]);
    if (gru_h_row) {  // linear_before_reset: x . Wh + Wbh here, h . Rh + Rbh kept apart
      gates[i] = acc + wb;
      hr[(d * p.batch + b) * p.H + (g - 2 * p.H)] = rec + rb;
    } else {
      gates[i] = acc + rec + wb + rb;
    }
  }
}

// GRU without linear_before_reset: rh[d, b, k] = r_k * h_k.
__global__ void gru_rh(RnnParams p, int64_t s, const int32_t* lens, const float* h, const float* gates, float* rh) {
  const int64_t GH = p.G * p.H;
  const int64_t n = p.D * p.batch * p.H;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i % p.H;
    const int64_t b = (i / p.H) % p.batch;
    const int d = static_cast<int>(i / (p.H * p.batch));
    if (step_time(p, d, s) >= lens[b]) continue;
    const float r = apply_act(p.acts[d * p.per_dir_acts], clipf(p, gates[(d * p.batch + b) * GH + p.H + k]));
    rh[i] = r * h[i];
  }
}

template <class T>
__global__ void rnn_update(RnnParams p, int64_t s, const typename T::storage* R, const typename T::storage* P,
                           const int32_t* lens, const float* gates, const float* hr, const float* rh, float* h,
                           float* c, typename T::storage* Y) {
  const int64_t GH = p.G * p.H;
  const int64_t H = p.H;
  const int64_t n = p.D * p.batch * H;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i % H;
    const int64_t b = (i / H) % p.batch;
    const int d = static_cast<int>(i / (H * p.batch));
    const int64_t t = step_time(p, d, s);
    if (t >= lens[b]) {
      if (Y) Y[y_off(p, t, d, b) + j] = T::store(0.f);
      continue;
    }
    const Act* act = p.acts + d * p.per_dir_acts;
    const float* g = gates + (d * p.batch + b) * GH;
    float hn;
    if (p.G == 1) {  // RNN
      hn = apply_act(act[0], clipf(p, g[j]));
    } else if (p.G == 4) {  // LSTM: i, o, f, c
      const float cp = c[i];
      float gi = g[j], go = g[H + j], gf = g[2 * H + j], gc = g[3 * H + j];
      const typename T::storage* pd = P ? P + d * 3 * H : nullptr;
      if (pd) {
        gi += T::load(pd[j]) * cp;
        gf += T::load(pd[2 * H + j]) * cp;
      }
      gi = apply_act(act[0], clipf(p, gi));
      gf = p.input_forget ? 1.f - gi : apply_act(act[0], clipf(p, gf));
      gc = apply_act(act[1], clipf(p, gc));
      const float cn = gf * cp + gi * gc;
      c[i] = cn;
      if (pd) go += T::load(pd[H + j]) * cn;
      go = apply_act(act[0], clipf(p, go));
      hn = go * apply_act(act[2], cn);
    } else {  // GRU: z, r, h
      const float z = apply_act(act[0], clipf(p, g[j]));
      float hh;
      if (p.lbr) {
        const float r = apply_act(act[0], clipf(p, g[H + j]));
        hh = g[2 * H + j] + r * hr[i];
      } else {
        const float* rv = rh + (d * p.batch + b) * H;
        const typename T::storage* rr = R + (d * GH + 2 * H + j) * H;
        float rec = 0.f;
        for (int64_t k = 0; k < H; ++k) rec += rv[k] * T::load(rr[k]);
        hh = g[2 * H + j] + rec;
      }
      hh = apply_act(act[1], clipf(p, hh));
      hn = (1.f - z) * hh + z * h[i];
    }
    h[i] = hn;
    if (Y) Y[y_off(p, t, d, b) + j] = T::store(hn);
  }
}

// Y_h / Y_c from the final state; zeros for a batch entry of length 0.
template <class T>
__global__ void rnn_final(RnnParams p, const int32_t* lens, const float* h, const float* c, typename T::storage* yh,
                          typename T::storage* yc) {
  const int64_t n = p.D * p.batch * p.H;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = i % p.H;
    const int64_t b = (i / p.H) % p.batch;
    const int d = static_cast<int>(i / (p.H * p.batch));
    const bool empty = lens[b] == 0;
    const int64_t o = st_off(p, d, b) + j;
    if (yh) yh[o] = T::store(empty ? 0.f : h[i]);
    if (yc) yc[o] = T::store(empty ? 0.f : c[i]);
  }
}

// The activation list of every direction, parsed as the CPU kernel does.
void parse_activations(const AttributeMap& a, int per_dir, int dirs, const std::vector<std::string>& defs, RnnParams& p,
                       const std::string& op) {
  std::vector<std::string> names = a.get_strings("activations");
  if (names.empty()) names = defs;
  if (static_cast<int>(names.size()) == per_dir && dirs == 2) {
    std::vector<std::string> twice = names;
    twice.insert(twice.end(), names.begin(), names.end());
    names = twice;
  }
  R1_CHECK(static_cast<int>(names.size()) == per_dir * dirs, ModelError)
      << op << ": activations has " << names.size() << " entries; expected " << per_dir * dirs;
  std::vector<float> alphas = a.get_floats("activation_alpha");
  std::vector<float> betas = a.get_floats("activation_beta");
  size_t ia = 0, ib = 0;
  auto next_alpha = [&](float def) { return ia < alphas.size() ? alphas[ia++] : def; };
  auto next_beta = [&](float def) { return ib < betas.size() ? betas[ib++] : def; };
  for (size_t k = 0; k < names.size(); ++k) {
    std::string n = names[k];
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
    Act act;
    if (n == "sigmoid")
      act.kind = kSigmoid;
    else if (n == "tanh")
      act.kind = kTanh;
    else if (n == "relu")
      act.kind = kRelu;
    else if (n == "hardsigmoid") {
      act.kind = kHardSigmoid;
      act.alpha = next_alpha(0.2f);
      act.beta = next_beta(0.5f);
    } else if (n == "affine") {
      act.kind = kAffine;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(0.f);
    } else if (n == "leakyrelu") {
      act.kind = kLeakyRelu;
      act.alpha = next_alpha(0.01f);
    } else if (n == "thresholdedrelu") {
      act.kind = kThresholdedRelu;
      act.alpha = next_alpha(1.f);
    } else if (n == "scaledtanh") {
      act.kind = kScaledTanh;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(1.f);
    } else if (n == "elu") {
      act.kind = kElu;
      act.alpha = next_alpha(1.f);
    } else if (n == "softsign")
      act.kind = kSoftsign;
    else if (n == "softplus")
      act.kind = kSoftplus;
    else
      R1_THROW(ModelError) << op << ": activation '" << names[k] << "' is not supported";
    p.acts[k] = act;
  }
}

void check_shape(const Tensor& t, const Shape& want, const char* what, const std::string& op) {
  R1_CHECK(t.shape() == want, InputError)
      << op << ": " << what << " has shape " << shape_str(t.shape()) << ", expected " << shape_str(want);
}

enum class Cell { RNN, GRU, LSTM };

void run_recurrent(KernelContext& ctx, Cell cell) {
  const std::string& op = ctx.node().op_type;
  const AttributeMap& a = ctx.attrs();
  RnnParams p;
  p.G = cell == Cell::LSTM ? 4 : cell == Cell::GRU ? 3 : 1;
  p.per_dir_acts = cell == Cell::LSTM ? 3 : cell == Cell::GRU ? 2 : 1;
  const std::string dir = a.get_string("direction", "forward");
  R1_CHECK(dir == "forward" || dir == "reverse" || dir == "bidirectional", ModelError)
      << op << ": direction '" << dir << "' is not supported (forward, reverse or bidirectional)";
  p.D = dir == "bidirectional" ? 2 : 1;
  p.reverse_only = dir == "reverse";
  const int64_t layout = ctx.opset() >= 14 ? a.get_int("layout", 0) : 0;
  R1_CHECK(layout == 0 || layout == 1, ModelError) << op << ": layout " << layout << " is not supported (0 or 1)";
  p.layout = static_cast<int>(layout);
  p.has_clip = a.has("clip");
  p.clip = a.get_float("clip", 0.f);
  R1_CHECK(!p.has_clip || p.clip > 0.f, ModelError) << op << ": clip must be positive, got " << p.clip;
  p.input_forget = cell == Cell::LSTM && a.get_int("input_forget", 0) != 0;
  p.lbr = cell == Cell::GRU && a.get_int("linear_before_reset", 0) != 0;
  const std::vector<std::string> defs = cell == Cell::LSTM  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                        : cell == Cell::GRU ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                            : std::vector<std::string>{"Tanh"};
  parse_activations(a, p.per_dir_acts, p.D, defs, p, op);

  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor& R = ctx.input(2);
  R1_CHECK(X.rank() == 3 && W.rank() == 3 && R.rank() == 3, InputError) << op << ": X, W and R must have rank 3";
  const DType dt = X.dtype();
  p.seq = layout ? X.dim(1) : X.dim(0);
  p.batch = layout ? X.dim(0) : X.dim(1);
  p.I = X.dim(2);
  p.H = R.dim(2);
  if (a.has("hidden_size")) {
    R1_CHECK(a.get_int("hidden_size", 0) == p.H, InputError)
        << op << ": hidden_size " << a.get_int("hidden_size", 0) << " does not match R's last dim " << p.H;
  }
  const int64_t GH = p.G * p.H;
  const int64_t D = p.D, batch = p.batch, H = p.H, seq = p.seq;
  check_shape(W, {D, GH, p.I}, "W", op);
  check_shape(R, {D, GH, H}, "R", op);
  const Shape state_shape = layout ? Shape{batch, D, H} : Shape{D, batch, H};
  auto same_dtype = [&](const Tensor& t, const char* what) {
    R1_CHECK(t.dtype() == dt, InputError)
        << op << ": " << what << " is " << dtype_name(t.dtype()) << ", X is " << dtype_name(dt);
  };
  same_dtype(W, "W");
  same_dtype(R, "R");
  const Tensor* B = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  const Tensor* h0 = ctx.has_input(5) ? &ctx.input(5) : nullptr;
  const Tensor* c0 = cell == Cell::LSTM && ctx.has_input(6) ? &ctx.input(6) : nullptr;
  const Tensor* P = cell == Cell::LSTM && ctx.has_input(7) ? &ctx.input(7) : nullptr;
  if (B) {
    check_shape(*B, {D, 2 * GH}, "B", op);
    same_dtype(*B, "B");
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (ctx.has_input(4)) {  // host tensor
    const Tensor& sl = ctx.input(4);
    R1_CHECK(sl.numel() == batch, InputError)
        << op << ": sequence_lens has " << sl.numel() << " values, batch is " << batch;
    lens = sl.to_int64_vector();
    for (int64_t v : lens)
      R1_CHECK(v >= 0 && v <= seq, InputError) << op << ": sequence_lens value " << v << " outside [0, " << seq << "]";
  }
  if (h0) {
    check_shape(*h0, state_shape, "initial_h", op);
    same_dtype(*h0, "initial_h");
  }
  if (c0) {
    check_shape(*c0, state_shape, "initial_c", op);
    same_dtype(*c0, "initial_c");
  }
  if (P) {
    check_shape(*P, {D, 3 * H}, "P", op);
    same_dtype(*P, "P");
  }
  R1_CHECK(seq <= INT32_MAX, InputError) << op << ": sequence length " << seq << " is too long";

  Tensor* Y = ctx.has_output(0) ? &ctx.output(0) : nullptr;
  Tensor* Yh = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  Tensor* Yc = cell == Cell::LSTM && ctx.has_output(2) ? &ctx.output(2) : nullptr;
  if (D * batch * H == 0) return;  // every output is empty

  KernelLaunch env(ctx);
  const gpuStream_t st = env.stream();
  Allocator& alloc = ctx.allocator();
  auto scratch = [&](int64_t count, size_t elem) { return alloc.allocate(static_cast<size_t>(count) * elem); };
  const int64_t units = D * batch * H;
  auto h_buf = scratch(units, sizeof(float));
  auto c_buf = cell == Cell::LSTM ? scratch(units, sizeof(float)) : nullptr;
  auto g_buf = scratch(D * batch * GH, sizeof(float));
  auto x_buf = cell == Cell::GRU ? scratch(units, sizeof(float)) : nullptr;  // hr (lbr) or rh
  auto l_buf = scratch(batch, sizeof(int32_t));
  float* h = static_cast<float*>(h_buf->data());
  float* c = c_buf ? static_cast<float*>(c_buf->data()) : nullptr;
  float* gates = static_cast<float*>(g_buf->data());
  float* extra = x_buf ? static_cast<float*>(x_buf->data()) : nullptr;
  int32_t* dlens = static_cast<int32_t*>(l_buf->data());
  for (int64_t off = 0; off < batch; off += kChunk) {
    IntChunk ch{};
    const int n = static_cast<int>(std::min<int64_t>(kChunk, batch - off));
    for (int i = 0; i < n; ++i) ch.v[i] = static_cast<int32_t>(lens[off + i]);
    write_chunk<<<1, kChunk, 0, st>>>(dlens + off, ch, n);
    R1_GPU_CHECK_LAUNCH();
  }

  dispatch_float_types(dt, op.c_str(), [&](auto tag) {
    using T = decltype(tag);
    using S = typename T::storage;
    auto ptr = [](const Tensor* t) -> const S* { return t ? data_of<T>(*t) : nullptr; };
    S* y = Y && Y->numel() ? data_of<T>(*Y) : nullptr;
    rnn_init<T><<<blocks_for(units), kThreads, 0, st>>>(p, ptr(h0), ptr(c0), h, c);
    R1_GPU_CHECK_LAUNCH();
    for (int64_t s = 0; s < seq; ++s) {
      rnn_gates<T><<<blocks_for(D * batch * GH), kThreads, 0, st>>>(p, s, data_of<T>(X), data_of<T>(W), data_of<T>(R),
                                                                    ptr(B), dlens, h, gates, extra);
      R1_GPU_CHECK_LAUNCH();
      if (cell == Cell::GRU && !p.lbr) {
        gru_rh<<<blocks_for(units), kThreads, 0, st>>>(p, s, dlens, h, gates, extra);
        R1_GPU_CHECK_LAUNCH();
      }
      rnn_update<T>
          <<<blocks_for(units), kThreads, 0, st>>>(p, s, data_of<T>(R), ptr(P), dlens, gates, extra, extra, h, c, y);
      R1_GPU_CHECK_LAUNCH();
    }
    S* yh = Yh && Yh->numel() ? data_of<T>(*Yh) : nullptr;
    S* yc = Yc && Yc->numel() ? data_of<T>(*Yc) : nullptr;
    if (yh || yc) {
      rnn_final<T><<<blocks_for(units), kThreads, 0, st>>>(p, dlens, h, c, yh, yc);
      R1_GPU_CHECK_LAUNCH();
    }
  });
}

void lstm(KernelContext& ctx) { run_recurrent(ctx, Cell::LSTM); }
void gru(KernelContext& ctx) { run_recurrent(ctx, Cell::GRU); }
void rnn(KernelContext& ctx) { run_recurrent(ctx, Cell::RNN); }

// Float X and every other present input (sequence_lens, read on the host, aside) and output of X's dtype.
bool supports_recurrent(const Node& n) {
  const Value* x = n.input(0);
  if (!x || !(x->dtype == DType::Float32 || x->dtype == DType::Float16 || x->dtype == DType::BFloat16)) return false;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (i != 4 && n.inputs[i] && n.inputs[i]->dtype != x->dtype) return false;
  for (const Value* o : n.outputs)
    if (o && o->dtype != x->dtype) return false;
  return true;
}

}  // namespace

void register_rnn_kernels(KernelTable& t) {
  constexpr uint32_t kSeqLens = 1u << 4;
  t.add("LSTM", lstm, "", kSeqLens, supports_recurrent);
  t.add("GRU", gru, "", kSeqLens, supports_recurrent);
  t.add("RNN", rnn, "", kSeqLens, supports_recurrent);
}
}  // namespace r1::gpu
