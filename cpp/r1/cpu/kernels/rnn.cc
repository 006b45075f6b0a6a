// CPU kernels of the rnn family: LSTM, GRU, RNN.
//
// Per direction: one GEMM computes X*W^T (+ biases) for every time step at once; each step then
// only multiplies the hidden state by R^T and applies the gate math. 16-bit floats compute in fp32.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/elementwise_math.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

// Below this many multiply-adds the built-in loop beats the BLAS call overhead.
constexpr int64_t kBlasMinWork = 1 << 16;

// Built once for AVX2+FMA and once for the baseline; the loader picks by CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_RNN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define R1_RNN_CLONES
#endif

// C[M,N] (+)= A[M,K] * B[K,N]: the built-in blocked loop for small products.
R1_RNN_CLONES void gemm_small(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                              float* C, int64_t ldc, bool accumulate) {
  if (!accumulate) {
    for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.f);
  }
  constexpr int64_t KB = 128, NB = 512;
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    int64_t k1 = std::min(K, k0 + KB);
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
      int64_t nb = std::min(N, n0 + NB) - n0;
      for (int64_t m = 0; m < M; ++m) {
        float* __restrict c = C + m * ldc + n0;
        const float* a = A + m * lda;
        for (int64_t k = k0; k < k1; ++k) {
          float av = a[k];
          const float* __restrict b = B + k * ldb + n0;
          for (int64_t j = 0; j < nb; ++j) c[j] += av * b[j];
        }
      }
    }
  }
}

// C[M,N] = A[M,K] * B[K,N] (+ C when accumulate). Row-major with leading dimensions.
void rnn_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.f);
    return;
  }
  if (M * N * K >= kBlasMinWork) {
    sgemm_serial(false, false, M, N, K, 1.f, A, lda, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
    return;
  }
  gemm_small(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// A per-step product split across the pool in 16-column panels, each run single-threaded.
void par_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  const int64_t work = M * N * K;
  const int nt = pool.num_threads();
  if (nt <= 1 || work < (1 << 17)) {
    rnn_gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  constexpr int64_t kPieceWork = 1 << 18;  // OpenBLAS stays single-threaded up to this M*N*K
  int64_t panels = (N + 15) / 16;
  int64_t pieces = std::max<int64_t>(nt, std::min<int64_t>(panels, work / kPieceWork));
  int64_t per = (panels + pieces - 1) / pieces * 16;
  pool.parallel_for(0, pieces, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t n0 = p * per, n1 = std::min(N, n0 + per);
      if (n0 < n1) rnn_gemm(M, n1 - n0, K, A, lda, B + n0, ldb, C + n0, ldc, accumulate);
    }
  });
}

// The input projection of all steps: one product split by rows across the pool.
void xw_gemm(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  const int64_t work = M * N * K;
  const int nt = pool.num_threads();
  if (work > (1 << 23)) {
    sgemm(false, false, M, N, K, 1.f, A, K, B, N, 1.f, C, N, pool);
    return;
  }
  if (nt <= 1 || work < (1 << 17) || M < 2 * nt) {
    rnn_gemm(M, N, K, A, K, B, N, C, N, true);
    return;
  }
  int64_t pieces = std::min<int64_t>(M, std::max<int64_t>(nt, (work + (1 << 18) - 1) >> 18));
  int64_t rows = (M + pieces - 1) / pieces;
  pool.parallel_for(0, pieces, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t m0 = p * rows, m1 = std::min(M, m0 + rows);
      if (m0 < m1) rnn_gemm(m1 - m0, N, K, A + m0 * K, K, B, N, C + m0 * N, N, true);
    }
  });
}

// ---- activations ----------------------------------------------------------------------------
// Sigmoid and Tanh are the hot ones: branch-free float code that the compiler vectorizes (the
// clamps sit in their own loops, which GCC otherwise refuses to if-convert). Sigmoid uses a
// Cephes-style exp (~1 ulp); Tanh the rational approximation used by Eigen and MLAS (~3e-7 rel).

inline float clampf(float v, float lo, float hi) {
  v = v > hi ? hi : v;
  v = v < lo ? lo : v;
  return v;
}

R1_RNN_CLONES void sigmoid_inplace(float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], -87.0f, 87.0f);
  for (int64_t i = 0; i < n; ++i) x[i] = 1.f / (1.f + ew::vexp(-x[i]));
}

R1_RNN_CLONES void tanh_inplace(float* __restrict x, int64_t n) {
  constexpr float c = 7.90531110763549805f;
  for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], -c, c);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    float x2 = v * v;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    x[i] = v * p / q;
  }
}

enum class ActKind {
  Sigmoid,
  Tanh,
  Relu,
  HardSigmoid,
  Affine,
  LeakyRelu,
  ThresholdedRelu,
  ScaledTanh,
  Elu,
  Softsign,
  Softplus
};

struct Act {
  ActKind kind = ActKind::Sigmoid;
  float alpha = 0.f, beta = 0.f;

  void apply(float* __restrict x, int64_t n) const {
    switch (kind) {
      case ActKind::Sigmoid:
        sigmoid_inplace(x, n);
        break;
      case ActKind::Tanh:
        tanh_inplace(x, n);
        break;
      case ActKind::Relu:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
        break;
      case ActKind::HardSigmoid:
        for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i] + beta;
        for (int64_t i = 0; i < n; ++i) x[i] = clampf(x[i], 0.f, 1.f);
        break;
      case ActKind::Affine:
        for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i] + beta;
        break;
      case ActKind::LeakyRelu:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.f ? x[i] : alpha * x[i];
        break;
      case ActKind::ThresholdedRelu:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] > alpha ? x[i] : 0.f;
        break;
      case ActKind::ScaledTanh:
        for (int64_t i = 0; i < n; ++i) x[i] = beta * x[i];
        tanh_inplace(x, n);
        for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i];
        break;
      case ActKind::Elu:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.f ? x[i] : alpha * std::expm1(x[i]);
        break;
      case ActKind::Softsign:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::fabs(x[i]));
        break;
      case ActKind::Softplus:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 20.f ? x[i] : std::log1p(std::exp(x[i]));
        break;
    }
  }
};

// Builds the activation list of every direction. alpha/beta values are consumed in order by the
// activations that take them (as onnxruntime does); missing ones take the ONNX op defaults.
std::vector<Act> parse_activations(const AttributeMap& a, int per_dir, int dirs, const std::vector<std::string>& defs) {
  std::vector<std::string> names = a.get_strings("activations");
  if (names.empty()) names = defs;
  if (static_cast<int>(names.size()) == per_dir && dirs == 2) {
    std::vector<std::string> twice = names;
    twice.insert(twice.end(), names.begin(), names.end());
    names = twice;
  }
  R1_CHECK(static_cast<int>(names.size()) == per_dir * dirs, ModelError)
      << "activations has " << names.size() << " entries; expected " << per_dir * dirs;
  std::vector<float> alphas = a.get_floats("activation_alpha");
  std::vector<float> betas = a.get_floats("activation_beta");
  size_t ia = 0, ib = 0;
  auto next_alpha = [&](float def) { return ia < alphas.size() ? alphas[ia++] : def; };
  auto next_beta = [&](float def) { return ib < betas.size() ? betas[ib++] : def; };
  std::vector<Act> out;
  for (std::string n : names) {
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    Act act;
    if (n == "sigmoid")
      act.kind = ActKind::Sigmoid;
    else if (n == "tanh")
      act.kind = ActKind::Tanh;
    else if (n == "relu")
      act.kind = ActKind::Relu;
    else if (n == "hardsigmoid") {
      act.kind = ActKind::HardSigmoid;
      act.alpha = next_alpha(0.2f);
      act.beta = next_beta(0.5f);
    } else if (n == "affine") {
      act.kind = ActKind::Affine;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(0.f);
    } else if (n == "leakyrelu") {
      act.kind = ActKind::LeakyRelu;
      act.alpha = next_alpha(0.01f);
    } else if (n == "thresholdedrelu") {
      act.kind = ActKind::ThresholdedRelu;
      act.alpha = next_alpha(1.f);
    } else if (n == "scaledtanh") {
      act.kind = ActKind::ScaledTanh;
      act.alpha = next_alpha(1.f);
      act.beta = next_beta(1.f);
    } else if (n == "elu") {
      act.kind = ActKind::Elu;
      act.alpha = next_alpha(1.f);
    } else if (n == "softsign")
      act.kind = ActKind::Softsign;
    else if (n == "softplus")
      act.kind = ActKind::Softplus;
    else
      R1_THROW(ModelError) << "activation '" << n << "' is not supported";
    out.push_back(act);
  }
  return out;
}

// ---- input/output helpers -------------------------------------------------------------------

// A float32 view of a float tensor (converted copy for float16/bfloat16).
struct FloatData {
  const float* p = nullptr;
  std::vector<float> store;
};

FloatData as_float(const Tensor& t) {
  FloatData d;
  if (t.dtype() == DType::Float32) {
    d.p = t.data<float>();
    return d;
  }
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = t.data<T>();
    d.store.resize(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) d.store[i] = static_cast<float>(s[i]);
  });
  d.p = d.store.data();
  return d;
}

// A float32 destination for an output (written back with convert for 16-bit dtypes).
struct FloatOut {
  Tensor* t = nullptr;
  float* p = nullptr;
  std::vector<float> store;
  void init(Tensor* out) {
    t = out;
    if (!t) return;
    if (t->dtype() == DType::Float32) {
      p = t->data<float>();
    } else {
      store.assign(static_cast<size_t>(t->numel()), 0.f);
      p = store.data();
    }
  }
  void finish() {
    if (!t || t->dtype() == DType::Float32) return;
    dispatch_float(t->dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* d = t->data<T>();
      for (int64_t i = 0; i < t->numel(); ++i) d[i] = convert<T>(store[i]);
    });
  }
};

enum class Cell { RNN, GRU, LSTM };

void check_shape(const Tensor& t, const Shape& want, const char* what) {
  R1_CHECK(t.shape() == want, InputError)
      << what << " has shape " << shape_str(t.shape()) << ", expected " << shape_str(want);
}

inline void clip_inplace(float* x, int64_t n, float clip) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(clip, std::max(-clip, x[i]));
}

void run_recurrent(KernelContext& ctx, Cell cell) {
  const AttributeMap& a = ctx.attrs();
  const int G = cell == Cell::LSTM ? 4 : cell == Cell::GRU ? 3 : 1;
  const int per_dir_acts = cell == Cell::LSTM ? 3 : cell == Cell::GRU ? 2 : 1;
  const std::string dir = a.get_string("direction", "forward");
  const int D = dir == "bidirectional" ? 2 : 1;
  const bool reverse_only = dir == "reverse";
  const int64_t layout = ctx.opset() >= 14 ? a.get_int("layout", 0) : 0;
  const bool has_clip = a.has("clip");
  const float clip = a.get_float("clip", 0.f);
  const bool input_forget = cell == Cell::LSTM && a.get_int("input_forget", 0) != 0;
  const bool lbr = cell == Cell::GRU && a.get_int("linear_before_reset", 0) != 0;
  std::vector<std::string> defs = cell == Cell::LSTM  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                  : cell == Cell::GRU ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                      : std::vector<std::string>{"Tanh"};
  const std::vector<Act> acts = parse_activations(a, per_dir_acts, D, defs);

  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor& R = ctx.input(2);
  R1_CHECK(X.rank() == 3 && W.rank() == 3 && R.rank() == 3, InputError) << "X, W and R must have rank 3";
  const int64_t seq = layout ? X.dim(1) : X.dim(0);
  const int64_t batch = layout ? X.dim(0) : X.dim(1);
  const int64_t I = X.dim(2);
  const int64_t H = R.dim(2);
  if (a.has("hidden_size")) {
    R1_CHECK(a.get_int("hidden_size", 0) == H, InputError)
        << "hidden_size " << a.get_int("hidden_size", 0) << " does not match R's last dim " << H;
  }
  const int64_t GH = G * H;
  check_shape(W, {D, GH, I}, "W");
  check_shape(R, {D, GH, H}, "R");
  const Shape state_shape = layout ? Shape{batch, D, H} : Shape{D, batch, H};

  FloatData x = as_float(X), w = as_float(W), r = as_float(R);
  FloatData b, h0, c0, p;
  if (ctx.has_input(3)) {
    check_shape(ctx.input(3), {D, 2 * GH}, "B");
    b = as_float(ctx.input(3));
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (ctx.has_input(4)) {
    const Tensor& sl = ctx.input(4);
    R1_CHECK(sl.numel() == batch, InputError) << "sequence_lens has " << sl.numel() << " values, batch is " << batch;
    lens = sl.to_int64_vector();
    for (int64_t v : lens)
      R1_CHECK(v >= 0 && v <= seq, InputError) << "sequence_lens value " << v << " outside [0, " << seq << "]";
  }
  if (ctx.has_input(5)) {
    check_shape(ctx.input(5), state_shape, "initial_h");
    h0 = as_float(ctx.input(5));
  }
  if (cell == Cell::LSTM && ctx.has_input(6)) {
    check_shape(ctx.input(6), state_shape, "initial_c");
    c0 = as_float(ctx.input(6));
  }
  if (cell == Cell::LSTM && ctx.has_input(7)) {
    check_shape(ctx.input(7), {D, 3 * H}, "P");
    p = as_float(ctx.input(7));
  }

  FloatOut y, yh, yc;
  y.init(ctx.has_output(0) ? &ctx.output(0) : nullptr);
  yh.init(ctx.has_output(1) ? &ctx.output(1) : nullptr);
  if (cell == Cell::LSTM) yc.init(ctx.has_output(2) ? &ctx.output(2) : nullptr);

  // Offsets into Y / state tensors.
  auto y_off = [&](int64_t t, int64_t d, int64_t bi) {
    return layout ? ((bi * seq + t) * D + d) * H : ((t * D + d) * batch + bi) * H;
  };
  auto st_off = [&](int64_t d, int64_t bi) { return layout ? (bi * D + d) * H : (d * batch + bi) * H; };
  auto x_row = [&](int64_t t, int64_t bi) { return layout ? bi * seq + t : t * batch + bi; };

  auto run_direction = [&](int d) {
    const bool rev = reverse_only || d == 1;
    const Act* act = acts.data() + d * per_dir_acts;
    // Transposed weights: Wt [I, GH], Rt [H, GH].
    std::vector<float> Wt(static_cast<size_t>(I * GH)), Rt(static_cast<size_t>(H * GH));
    const float* wd = w.p + d * GH * I;
    const float* rd = r.p + d * GH * H;
    for (int64_t g = 0; g < GH; ++g)
      for (int64_t k = 0; k < I; ++k) Wt[k * GH + g] = wd[g * I + k];
    for (int64_t g = 0; g < GH; ++g)
      for (int64_t k = 0; k < H; ++k) Rt[k * GH + g] = rd[g * H + k];
    // Bias folded into the input projection. GRU with linear_before_reset keeps Rbh apart.
    std::vector<float> bias(static_cast<size_t>(GH), 0.f), rbh(static_cast<size_t>(H), 0.f);
    if (b.p) {
      const float* wb = b.p + d * 2 * GH;
      const float* rb = wb + GH;
      for (int64_t j = 0; j < GH; ++j) bias[j] = wb[j] + rb[j];
      if (lbr) {
        for (int64_t j = 0; j < H; ++j) {
          bias[2 * H + j] = wb[2 * H + j];
          rbh[j] = rb[2 * H + j];
        }
      }
    }
    const int64_t rows = seq * batch;
    std::vector<float> XW(static_cast<size_t>(rows * GH));
    for (int64_t i = 0; i < rows; ++i) std::memcpy(XW.data() + i * GH, bias.data(), sizeof(float) * GH);
    xw_gemm(ctx.pool(), rows, GH, I, x.p, Wt.data(), XW.data());

    std::vector<float> h(static_cast<size_t>(batch * H), 0.f), c, gates(static_cast<size_t>(batch * GH));
    std::vector<float> tmp(static_cast<size_t>(batch * H));
    if (h0.p)
      for (int64_t bi = 0; bi < batch; ++bi) std::memcpy(&h[bi * H], h0.p + st_off(d, bi), sizeof(float) * H);
    if (cell == Cell::LSTM) {
      c.assign(static_cast<size_t>(batch * H), 0.f);
      if (c0.p)
        for (int64_t bi = 0; bi < batch; ++bi) std::memcpy(&c[bi * H], c0.p + st_off(d, bi), sizeof(float) * H);
    }
    const float* pi = p.p ? p.p + d * 3 * H : nullptr;
    const float* po = pi ? pi + H : nullptr;
    const float* pf = pi ? pi + 2 * H : nullptr;

    for (int64_t s = 0; s < seq; ++s) {
      const int64_t t = rev ? seq - 1 - s : s;
      if (cell == Cell::GRU && !lbr) {
        par_gemm(ctx.pool(), batch, 2 * H, H, h.data(), H, Rt.data(), GH, gates.data(), GH, false);
      } else {
        par_gemm(ctx.pool(), batch, GH, H, h.data(), H, Rt.data(), GH, gates.data(), GH, false);
      }
      for (int64_t bi = 0; bi < batch; ++bi) {
        float* g = &gates[bi * GH];
        float* hb = &h[bi * H];
        if (t >= lens[bi]) {
          if (y.p) std::fill(y.p + y_off(t, d, bi), y.p + y_off(t, d, bi) + H, 0.f);
          continue;
        }
        const float* xw = &XW[x_row(t, bi) * GH];
        if (cell == Cell::RNN) {
          for (int64_t j = 0; j < H; ++j) g[j] += xw[j];
          if (has_clip) clip_inplace(g, H, clip);
          act[0].apply(g, H);
          std::memcpy(hb, g, sizeof(float) * H);
        } else if (cell == Cell::LSTM) {
          float* cb = &c[bi * H];
          for (int64_t j = 0; j < GH; ++j) g[j] += xw[j];
          float* gi = g;
          float* go = g + H;
          float* gf = g + 2 * H;
          float* gc = g + 3 * H;
          if (pi) {
            for (int64_t j = 0; j < H; ++j) {
              gi[j] += pi[j] * cb[j];
              gf[j] += pf[j] * cb[j];
            }
          }
          if (has_clip) {
            clip_inplace(gi, H, clip);
            clip_inplace(gf, H, clip);
            clip_inplace(gc, H, clip);
          }
          act[0].apply(gi, H);
          if (input_forget) {
            for (int64_t j = 0; j < H; ++j) gf[j] = 1.f - gi[j];
          } else {
            act[0].apply(gf, H);
          }
          act[1].apply(gc, H);
          for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
          if (po)
            for (int64_t j = 0; j < H; ++j) go[j] += po[j] * cb[j];
          if (has_clip) clip_inplace(go, H, clip);
          act[0].apply(go, H);
          float* th = &tmp[bi * H];
          std::memcpy(th, cb, sizeof(float) * H);
          act[2].apply(th, H);
          for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * th[j];
        } else {  // GRU: z, r gates first
          for (int64_t j = 0; j < 2 * H; ++j) g[j] += xw[j];
          if (has_clip) clip_inplace(g, 2 * H, clip);
          act[0].apply(g, 2 * H);
          if (!lbr) {
            const float* rg = g + H;
            float* rh = &tmp[bi * H];
            for (int64_t j = 0; j < H; ++j) rh[j] = rg[j] * hb[j];
          }
        }
      }
      if (cell == Cell::GRU) {
        if (!lbr) {
          // (r * h) R_h^T into the h-gate slot.
          par_gemm(ctx.pool(), batch, H, H, tmp.data(), H, Rt.data() + 2 * H, GH, gates.data() + 2 * H, GH, false);
        }
        for (int64_t bi = 0; bi < batch; ++bi) {
          if (t >= lens[bi]) continue;
          float* g = &gates[bi * GH];
          float* hb = &h[bi * H];
          const float* xw = &XW[x_row(t, bi) * GH];
          float* z = g;
          float* rg = g + H;
          float* hh = g + 2 * H;
          if (lbr) {
            for (int64_t j = 0; j < H; ++j) hh[j] = xw[2 * H + j] + rg[j] * (hh[j] + rbh[j]);
          } else {
            for (int64_t j = 0; j < H; ++j) hh[j] += xw[2 * H + j];
          }
          if (has_clip) clip_inplace(hh, H, clip);
          act[1].apply(hh, H);
          for (int64_t j = 0; j < H; ++j) hb[j] = (1.f - z[j]) * hh[j] + z[j] * hb[j];
        }
      }
      if (y.p) {
        for (int64_t bi = 0; bi < batch; ++bi)
          if (t < lens[bi]) std::memcpy(y.p + y_off(t, d, bi), &h[bi * H], sizeof(float) * H);
      }
    }
    // Final states. A batch entry of length 0 gets zeros, as onnxruntime does.
    for (int64_t bi = 0; bi < batch; ++bi) {
      const bool empty = lens[bi] == 0;
      if (yh.p) {
        if (empty)
          std::fill(yh.p + st_off(d, bi), yh.p + st_off(d, bi) + H, 0.f);
        else
          std::memcpy(yh.p + st_off(d, bi), &h[bi * H], sizeof(float) * H);
      }
      if (yc.p) {
        if (empty)
          std::fill(yc.p + st_off(d, bi), yc.p + st_off(d, bi) + H, 0.f);
        else
          std::memcpy(yc.p + st_off(d, bi), &c[bi * H], sizeof(float) * H);
      }
    }
  };

  if (D == 2 && seq * batch * GH * (I + H) >= (1 << 16)) {
    ctx.pool().parallel_for(0, 2, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t d = b0; d < b1; ++d) run_direction(static_cast<int>(d));
    });
  } else {
    for (int d = 0; d < D; ++d) run_direction(d);
  }
  y.finish();
  yh.finish();
  yc.finish();
}

void lstm(KernelContext& ctx) { run_recurrent(ctx, Cell::LSTM); }
void gru(KernelContext& ctx) { run_recurrent(ctx, Cell::GRU); }
void rnn(KernelContext& ctx) { run_recurrent(ctx, Cell::RNN); }

}  // namespace

void register_rnn_kernels(KernelTable& t) {
  t.add("LSTM", lstm);
  t.add("GRU", gru);
  t.add("RNN", rnn);
}
}  // namespace r1::cpu
