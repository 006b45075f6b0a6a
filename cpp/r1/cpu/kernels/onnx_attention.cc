// CPU kernel of the ONNX Attention op (opset 23-25), following onnx's reference step for step: the
// scale split as sqrt(scale) on Q and on K, softcap, then the bias of the mask, causal (offset by
// the cache), sliding window and nonpad_kv_seqlen terms, a softmax in double whose fully masked rows
// are zero, and P @ V. Grouped-query heads read their shared K/V head. This is the reference path:
// exporters' attention runs through r1::Attention (attention.cc) after the fusion pass.
#include <cmath>
#include <limits>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A tensor in [B, H, S, D] order as floats: 4-D inputs as they are, 3-D [B, S, H*D] transposed.
std::vector<float> bhsd(const Tensor& t, int64_t heads) {
  std::vector<float> v = to_floats(t);
  if (t.rank() == 4) return v;
  int64_t B = t.shape()[0], S = t.shape()[1], D = t.shape()[2] / heads;
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t d = 0; d < D; ++d) out[((b * heads + h) * S + s) * D + d] = v[((b * S + s) * heads + h) * D + d];
  return out;
}

// past (may be empty) followed by new rows along S: [B, H, P + S, D].
std::vector<float> concat_s(const std::vector<float>& past, int64_t P, const std::vector<float>& cur, int64_t S,
                            int64_t BH, int64_t D) {
  std::vector<float> out(static_cast<size_t>(BH * (P + S) * D));
  for (int64_t bh = 0; bh < BH; ++bh) {
    std::copy(past.begin() + bh * P * D, past.begin() + (bh + 1) * P * D, out.begin() + bh * (P + S) * D);
    std::copy(cur.begin() + bh * S * D, cur.begin() + (bh + 1) * S * D, out.begin() + (bh * (P + S) + P) * D);
  }
  return out;
}

// Rounds to the precision softmax_precision asks for (float16 / bfloat16), else leaves the value.
float round_to(float v, int64_t precision) {
  if (precision == 10) return static_cast<float>(half(v));
  if (precision == 16) return static_cast<float>(bfloat16(v));
  return v;
}

void onnx_attention(KernelContext& ctx) {
  const Tensor& q_t = ctx.input(0);
  bool three_d = q_t.rank() == 3;
  int64_t B = q_t.shape()[0];
  int64_t Hq = three_d ? ctx.attrs().get_int("q_num_heads", 0) : q_t.shape()[1];
  int64_t Hkv = three_d ? ctx.attrs().get_int("kv_num_heads", 0) : ctx.input(1).shape()[1];
  int64_t Sq = three_d ? q_t.shape()[1] : q_t.shape()[2];
  int64_t Skv = three_d ? ctx.input(1).shape()[1] : ctx.input(1).shape()[2];
  int64_t Dqk = three_d ? q_t.shape()[2] / Hq : q_t.shape()[3];
  int64_t Dv = three_d ? ctx.input(2).shape()[2] / Hkv : ctx.input(2).shape()[3];
  R1_CHECK(Hkv > 0 && Hq % Hkv == 0, InputError) << "Attention: " << Hq << " query heads for " << Hkv << " kv heads";
  std::vector<float> Q = bhsd(q_t, Hq), Kn = bhsd(ctx.input(1), Hkv), Vn = bhsd(ctx.input(2), Hkv);
  bool has_past = ctx.has_input(4) && ctx.input(4).numel() >= 0 && ctx.has_input(5);
  int64_t P = has_past ? ctx.input(4).shape()[2] : 0;
  std::vector<float> K = has_past ? concat_s(to_floats(ctx.input(4)), P, Kn, Skv, B * Hkv, Dqk) : Kn;
  std::vector<float> V = has_past ? concat_s(to_floats(ctx.input(5)), P, Vn, Skv, B * Hkv, Dv) : Vn;
  int64_t T = P + Skv;
  // Mask: numpy-broadcast against [B, Hq, Sq, T]; a last dim shorter than T is padded as masked.
  bool has_mask = ctx.has_input(3) && ctx.input(3).numel() > 0;
  std::vector<float> mask;
  Shape ms;
  std::vector<int64_t> mst(4, 0);
  bool bool_mask = false;
  if (has_mask) {
    const Tensor& m = ctx.input(3);
    bool_mask = m.dtype() == DType::Bool;
    if (bool_mask) {
      mask.resize(static_cast<size_t>(m.numel()));
      for (int64_t i = 0; i < m.numel(); ++i) mask[i] = m.data<bool>()[i] ? 0.0f : kNegInf;
    } else {
      mask = to_floats(m);
    }
    ms = m.shape();
    R1_CHECK(!ms.empty() && ms.size() <= 4, InputError) << "Attention: attn_mask of rank " << ms.size();
    int64_t stride = 1;
    const int64_t full[4] = {B, Hq, Sq, T};
    for (size_t i = ms.size(); i-- > 0;) {
      size_t d = 4 - ms.size() + i;
      bool last = d == 3;
      R1_CHECK(ms[i] == 1 || ms[i] == full[d] || (last && ms[i] <= T), InputError)
          << "Attention: attn_mask " << shape_str(ms) << " does not broadcast to [" << B << ", " << Hq << ", " << Sq
          << ", " << T << "]";
      mst[d] = ms[i] == 1 && !last ? 0 : stride;
      stride *= ms[i];
    }
  }
  int64_t mask_len = has_mask ? ms.back() : 0;
  bool causal = ctx.attrs().get_int("is_causal", 0) != 0;
  int64_t left = ctx.attrs().get_int("left_window_size", -1), right = ctx.attrs().get_int("right_window_size", -1);
  bool has_nonpad = ctx.has_input(6) && ctx.input(6).numel() > 0;
  std::vector<int64_t> nonpad = has_nonpad ? ctx.input(6).to_int64_vector() : std::vector<int64_t>();
  if (has_nonpad)
    R1_CHECK(static_cast<int64_t>(nonpad.size()) == B, InputError) << "Attention: nonpad_kv_seqlen needs " << B;
  float softcap = ctx.attrs().get_float("softcap", 0.0f);
  int64_t mode = ctx.attrs().get_int("qk_matmul_output_mode", 0);
  int64_t precision = ctx.attrs().get_int("softmax_precision", 0);
  double scale = ctx.attrs().has("scale") ? ctx.attrs().get_float("scale", 1.0f) : 1.0 / std::sqrt(double(Dqk));
  auto sq = static_cast<float>(std::sqrt(scale));

  std::vector<float> Y(static_cast<size_t>(B * Hq * Sq * Dv)), QK(static_cast<size_t>(B * Hq * Sq * T));
  int64_t group = Hq / Hkv;
  ctx.pool().parallel_for(0, B * Hq * Sq, 4, [&](int64_t b0, int64_t e0) {
    std::vector<float> qs(Dqk), s(T), bias(T);
    std::vector<double> p(T);
    for (int64_t row = b0; row < e0; ++row) {
      int64_t b = row / (Hq * Sq), h = (row / Sq) % Hq, i = row % Sq, hk = h / group;
      int64_t offset = has_nonpad ? nonpad[b] - Sq : P;  // keys before this query block
      for (int64_t d = 0; d < Dqk; ++d) qs[d] = Q[((b * Hq + h) * Sq + i) * Dqk + d] * sq;
      const float* kb = &K[(b * Hkv + hk) * T * Dqk];
      bool any = false;
      for (int64_t j = 0; j < T; ++j) {
        float acc = 0;
        for (int64_t d = 0; d < Dqk; ++d) acc += qs[d] * (kb[j * Dqk + d] * sq);
        float raw = acc;
        if (softcap > 0) acc = softcap * std::tanh(acc / softcap);
        float bj = 0;
        if (has_mask) bj += j < mask_len ? mask[b * mst[0] + h * mst[1] + i * mst[2] + j * mst[3]] : kNegInf;
        if (causal && j > i + offset) bj = kNegInf;
        int64_t diff = i + offset - j;
        if ((left >= 0 && diff > left) || (right >= 0 && -diff > right)) bj = kNegInf;
        if (has_nonpad && j >= nonpad[b]) bj = kNegInf;
        bias[j] = bj;
        any = any || bj != kNegInf;
        s[j] = acc + bj;
        float* qk = &QK[row * T + j];
        *qk = mode == 0 ? raw : mode == 1 ? acc : s[j];
      }
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t j = 0; j < T; ++j) mx = std::max(mx, double(round_to(s[j], precision)));
      for (int64_t j = 0; j < T; ++j) {
        p[j] = any && std::isfinite(mx) ? std::exp(double(round_to(s[j], precision)) - mx) : 0.0;
        sum += p[j];
      }
      for (int64_t j = 0; j < T; ++j) {
        p[j] = sum > 0 ? double(round_to(float(p[j] / sum), precision)) : 0.0;
        if (mode == 3) QK[row * T + j] = static_cast<float>(p[j]);
      }
      const float* vb = &V[(b * Hkv + hk) * T * Dv];
      float* y = &Y[row * Dv];
      for (int64_t d = 0; d < Dv; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < T; ++j) acc += p[j] * vb[j * Dv + d];
        y[d] = static_cast<float>(acc);
      }
    }
  });
  if (three_d) {  // [B, Hq, Sq, Dv] -> [B, Sq, Hq * Dv]
    std::vector<float> t(Y.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < Sq; ++i)
          for (int64_t d = 0; d < Dv; ++d) t[((b * Sq + i) * Hq + h) * Dv + d] = Y[((b * Hq + h) * Sq + i) * Dv + d];
    Y.swap(t);
  }
  store_float(Y.data(), ctx.output(0), ctx.pool());
  if (ctx.has_output(1)) store_float(K.data(), ctx.output(1), ctx.pool());
  if (ctx.has_output(2)) store_float(V.data(), ctx.output(2), ctx.pool());
  if (ctx.has_output(3)) store_float(QK.data(), ctx.output(3), ctx.pool());
}

}  // namespace

void register_onnx_attention_kernels(KernelTable& t) { t.add("Attention", onnx_attention); }
}  // namespace r1::cpu
