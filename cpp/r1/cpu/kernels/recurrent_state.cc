// CPU kernels of LinearAttention and CausalConvWithState (opset 27), in float as onnx's reference
// computes them: one state matrix per (batch, kv head) updated token by token.
#include <cmath>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// S <- S * exp(g) (gated); v' = beta * (v - S^T k) (delta); S <- S + k v'^T; out_h = scale * q_h^T S.
void linear_attention(KernelContext& ctx) {
  std::string rule = ctx.attrs().get_string("update_rule", "gated_delta");
  bool gating = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta";
  int64_t hq = ctx.attrs().get_int("q_num_heads", 0), hkv = ctx.attrs().get_int("kv_num_heads", 0);
  const Tensor& q_t = ctx.input(0);
  int64_t B = q_t.shape()[0], T = q_t.shape()[1], dk = q_t.shape()[2] / hq, dv = ctx.input(2).shape()[2] / hkv;
  R1_CHECK(ctx.input(1).shape()[2] == hkv * dk && ctx.input(1).shape()[1] == T && ctx.input(2).shape()[1] == T,
           InputError)
      << "LinearAttention: key " << ctx.input(1).describe() << " / value " << ctx.input(2).describe()
      << " do not match query " << q_t.describe();
  std::vector<float> q = to_floats(q_t), k = to_floats(ctx.input(1)), v = to_floats(ctx.input(2));
  std::vector<float> decay, beta;
  int64_t decay_w = 0, beta_w = 0;
  if (gating) {
    decay = to_floats(ctx.input(4));
    decay_w = ctx.input(4).shape().back();
    R1_CHECK(decay_w == hkv || decay_w == hkv * dk, InputError)
        << "LinearAttention: decay's last dim " << decay_w << " must be kv_num_heads or kv_num_heads * d_k";
  }
  if (delta) {
    beta = to_floats(ctx.input(5));
    beta_w = ctx.input(5).shape().back();
    R1_CHECK(beta_w == hkv || beta_w == 1, InputError)
        << "LinearAttention: beta's last dim " << beta_w << " must be kv_num_heads or 1";
  }
  bool has_past = ctx.has_input(3) && ctx.input(3).numel() > 0;
  std::vector<float> state(static_cast<size_t>(B * hkv * dk * dv), 0.0f);
  if (has_past) {
    R1_CHECK(ctx.input(3).shape() == Shape({B, hkv, dk, dv}), InputError)
        << "LinearAttention: past_state " << ctx.input(3).describe() << " is not [" << B << ", " << hkv << ", " << dk
        << ", " << dv << "]";
    state = to_floats(ctx.input(3));
  }
  float s_attr = ctx.attrs().get_float("scale", 0.0f);
  float scale = s_attr == 0.0f ? 1.0f / std::sqrt(static_cast<float>(dk)) : s_attr;
  int64_t group = hq / hkv;
  std::vector<float> out(static_cast<size_t>(B * T * hq * dv));
  ctx.pool().parallel_for(0, B * hkv, 1, [&](int64_t b0, int64_t e0) {
    std::vector<float> vt(dv), ret(dv);
    for (int64_t bh = b0; bh < e0; ++bh) {
      int64_t b = bh / hkv, h = bh % hkv;
      float* S = &state[bh * dk * dv];
      for (int64_t t = 0; t < T; ++t) {
        const float* kt = &k[((b * T + t) * hkv + h) * dk];
        for (int64_t m = 0; m < dv; ++m) vt[m] = v[((b * T + t) * hkv + h) * dv + m];
        if (gating)
          for (int64_t d = 0; d < dk; ++d) {
            float g = decay_w == hkv ? decay[(b * T + t) * hkv + h] : decay[((b * T + t) * hkv + h) * dk + d];
            float e = std::exp(g);
            for (int64_t m = 0; m < dv; ++m) S[d * dv + m] *= e;
          }
        if (delta) {
          float bt = beta[(b * T + t) * beta_w + (beta_w == 1 ? 0 : h)];
          std::fill(ret.begin(), ret.end(), 0.0f);
          for (int64_t d = 0; d < dk; ++d)
            for (int64_t m = 0; m < dv; ++m) ret[m] += S[d * dv + m] * kt[d];
          for (int64_t m = 0; m < dv; ++m) vt[m] = bt * (vt[m] - ret[m]);
        }
        for (int64_t d = 0; d < dk; ++d)
          for (int64_t m = 0; m < dv; ++m) S[d * dv + m] += kt[d] * vt[m];
        for (int64_t g = 0; g < group; ++g) {
          int64_t hh = h * group + g;
          const float* qt = &q[((b * T + t) * hq + hh) * dk];
          float* o = &out[((b * T + t) * hq + hh) * dv];
          for (int64_t m = 0; m < dv; ++m) {
            float acc = 0;
            for (int64_t d = 0; d < dk; ++d) acc += qt[d] * S[d * dv + m];
            o[m] = scale * acc;
          }
        }
      }
    }
  });
  store_float(out.data(), ctx.output(0), ctx.pool());
  if (ctx.has_output(1)) store_float(state.data(), ctx.output(1), ctx.pool());
}

// y[b, c, t] = bias[c] + sum_j w[c, j] * padded[b, c, t + j], padded = past_state (or zeros) ++ input;
// present_state = the last k - 1 columns of padded.
void causal_conv_with_state(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Tensor& w_t = ctx.input(1);
  int64_t B = x_t.shape()[0], C = x_t.shape()[1], L = x_t.shape()[2], K = w_t.shape()[2];
  R1_CHECK(w_t.shape()[0] == C && w_t.shape()[1] == 1 && K >= 1, InputError)
      << "CausalConvWithState: weight " << w_t.describe() << " must be [" << C << ", 1, k]";
  std::vector<float> x = to_floats(x_t), w = to_floats(w_t), bias(C, 0.0f);
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) bias = to_floats(ctx.input(2));
  R1_CHECK(static_cast<int64_t>(bias.size()) == C, InputError) << "CausalConvWithState: bias needs " << C << " values";
  std::vector<float> past(static_cast<size_t>(B * C * (K - 1)), 0.0f);
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) {
    R1_CHECK(ctx.input(3).shape() == Shape({B, C, K - 1}), InputError)
        << "CausalConvWithState: past_state " << ctx.input(3).describe() << " is not [" << B << ", " << C << ", "
        << K - 1 << "]";
    past = to_floats(ctx.input(3));
  }
  bool silu = ctx.attrs().get_string("activation", "none") != "none";
  int64_t P = L + K - 1;
  std::vector<float> y(static_cast<size_t>(B * C * L)), state(static_cast<size_t>(B * C * (K - 1)));
  std::vector<float> padded(static_cast<size_t>(P));
  for (int64_t bc = 0; bc < B * C; ++bc) {
    int64_t c = bc % C;
    std::copy(past.begin() + bc * (K - 1), past.begin() + (bc + 1) * (K - 1), padded.begin());
    std::copy(x.begin() + bc * L, x.begin() + (bc + 1) * L, padded.begin() + (K - 1));
    for (int64_t t = 0; t < L; ++t) {
      float acc = bias[c];
      for (int64_t j = 0; j < K; ++j) acc += w[c * K + j] * padded[t + j];
      y[bc * L + t] = silu ? acc / (1.0f + std::exp(-acc)) : acc;
    }
    std::copy(padded.end() - (K - 1), padded.end(), state.begin() + bc * (K - 1));
  }
  store_float(y.data(), ctx.output(0), ctx.pool());
  if (ctx.has_output(1)) store_float(state.data(), ctx.output(1), ctx.pool());
}

}  // namespace

void register_recurrent_state_kernels(KernelTable& t) {
  t.add("LinearAttention", linear_attention);
  t.add("CausalConvWithState", causal_conv_with_state);
}
}  // namespace r1::cpu
