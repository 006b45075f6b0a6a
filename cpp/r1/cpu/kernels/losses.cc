// CPU kernels of NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over the class
// axis, then the same loss). Sums accumulate in double.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

// logp [N, C, D] (D = product of the trailing dims), target [N, D] -> the loss tensor of the reduction.
void nll(KernelContext& ctx, const std::vector<float>& logp, int64_t N, int64_t C, int64_t D) {
  std::vector<int64_t> target = ctx.input(1).to_int64_vector();
  bool has_w = ctx.has_input(2) && ctx.input(2).numel() > 0;
  std::vector<float> w = has_w ? to_floats(ctx.input(2)) : std::vector<float>();
  if (has_w)
    R1_CHECK(static_cast<int64_t>(w.size()) == C, InputError)
        << ctx.node().op_type << ": weight holds " << w.size() << " values for " << C << " classes";
  bool has_ignore = ctx.attrs().has("ignore_index");
  int64_t ignore = ctx.attrs().get_int("ignore_index", 0);
  std::string red = ctx.attrs().get_string("reduction", "mean");
  std::vector<float> loss(static_cast<size_t>(N * D));
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      int64_t t = target[n * D + d];
      if (has_ignore && t == ignore) {
        loss[n * D + d] = 0;
        continue;
      }
      R1_CHECK(t >= 0 && t < C, InputError)
          << ctx.node().op_type << ": target " << t << " out of range for " << C << " classes";
      float wt = has_w ? w[t] : 1.0f;
      float l = -logp[(n * C + t) * D + d] * wt;
      loss[n * D + d] = l;
      sum += l;
      wsum += wt;
    }
  Tensor& y = ctx.output(0);
  if (red == "none") {
    store_float(loss.data(), y, ctx.pool());
    return;
  }
  float v = static_cast<float>(red == "sum" ? sum : sum / wsum);
  store_float(&v, y, ctx.pool());
}

void nll_loss(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t N = x.shape()[0], C = x.shape()[1], D = x.numel() / std::max<int64_t>(1, N * C);
  nll(ctx, to_floats(x), N, C, D);
}

void softmax_cross_entropy(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t N = x.shape()[0], C = x.shape()[1], D = x.numel() / std::max<int64_t>(1, N * C);
  std::vector<float> s = to_floats(x), logp(s.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; ++c) m = std::max(m, s[(n * C + c) * D + d]);
      double z = 0;
      for (int64_t c = 0; c < C; ++c) z += std::exp(static_cast<double>(s[(n * C + c) * D + d] - m));
      float lz = m + static_cast<float>(std::log(z));
      for (int64_t c = 0; c < C; ++c) logp[(n * C + c) * D + d] = s[(n * C + c) * D + d] - lz;
    }
  nll(ctx, logp, N, C, D);
  if (ctx.has_output(1)) store_float(logp.data(), ctx.output(1), ctx.pool());
}

}  // namespace

void register_losses_kernels(KernelTable& t) {
  t.add("NegativeLogLikelihoodLoss", nll_loss);
  t.add("SoftmaxCrossEntropyLoss", softmax_cross_entropy);
}
}  // namespace r1::cpu
