// CPU kernels of the rnn family: LSTM, GRU, RNN.
//
// Per direction: one GEMM computes X*W^T (+ biases) for every time step at once; each step then
// only multiplies the hidden state by R^T and applies the gate math. 16-bit floats compute in fp32.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/rnn_kernels.h"

namespace r1::cpu {
namespace {

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
