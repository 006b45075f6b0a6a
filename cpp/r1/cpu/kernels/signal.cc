// CPU kernels of the signal-processing ops: DFT, STFT, the window generators and MelWeightMatrix.
// Transforms run per lane (one 1-D signal) across threads with one FftPlan shared by all lanes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/fft.h"
#include "r1/cpu/kernels/norm_util.h"
#include "r1/ir/ops/signal.h"

namespace r1::cpu {
namespace {

constexpr double kPi = 3.14159265358979323846;

int64_t scalar_input(KernelContext& ctx, size_t i, const char* what) {
  std::vector<int64_t> v = ctx.input(i).to_int64_vector();
  R1_CHECK(v.size() == 1, InputError) << ctx.node().op_type << ": " << what << " must be a scalar, got " << v.size()
                                      << " values";
  return v[0];
}

void dft(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Shape& xs = x_t.shape();
  int rank = x_t.rank();
  bool inverse = ctx.attrs().get_int("inverse", 0) != 0;
  bool onesided = ctx.attrs().get_int("onesided", 0) != 0;
  int64_t axis_v = ctx.opset() >= 20 ? -2 : ctx.attrs().get_int("axis", 1);
  if (ctx.opset() >= 20 && ctx.has_input(2) && ctx.input(2).numel() > 0) axis_v = scalar_input(ctx, 2, "axis");
  int axis = dft_axis(axis_v, rank);
  int64_t L = xs[axis], cin = xs[rank - 1];
  R1_CHECK(cin == 1 || cin == 2, InputError) << "DFT: the last dim must be 1 (real) or 2 (complex), got " << cin;
  int64_t n = ctx.has_input(1) && ctx.input(1).numel() > 0 ? scalar_input(ctx, 1, "dft_length")
                                                           : (inverse && onesided ? 2 * (L - 1) : L);
  R1_CHECK(n > 0, InputError) << "DFT: dft_length must be positive, got " << n;
  bool irfft = inverse && onesided;
  int64_t n_out = dft_output_length(n, inverse, onesided);
  int64_t cout = irfft ? 1 : 2;
  Shape os = xs;
  os[axis] = n_out;
  os[rank - 1] = cout;
  Tensor& y_t = ctx.allocate_output(0, os, x_t.dtype());
  if (y_t.numel() == 0) return;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= xs[i];
  for (int i = axis + 1; i < rank - 1; ++i) inner *= xs[i];
  FloatIn xin = float_input(x_t, ctx.pool());
  FloatOut yout;
  yout.init(y_t);
  // A real forward transform goes through a complex one of half the length (RealFftPlan).
  bool real = cin == 1 && !inverse;
  FftPlan plan(real ? 1 : n, inverse);
  RealFftPlan rplan(real ? n : 1);
  double scale = inverse ? 1.0 / static_cast<double>(n) : 1.0;
  // Input bins read: all of them up to n (truncate or zero-pad); for the inverse of a one-sided
  // spectrum, the first n/2 + 1, the rest being their conjugates.
  int64_t take = std::min(L, irfft ? n / 2 + 1 : n);
  ctx.pool().parallel_for(0, outer * inner, std::max<int64_t>(1, 4096 / n), [&](int64_t b, int64_t e) {
    std::vector<cplx> buf(static_cast<size_t>(n)), scratch, half;
    std::vector<float> signal(real ? static_cast<size_t>(n) : 0);
    for (int64_t lane = b; lane < e; ++lane) {
      int64_t o = lane / inner, i = lane % inner;
      const float* src = xin.p + (o * L * inner + i) * cin;
      if (real) {
        std::fill(signal.begin(), signal.end(), 0.0f);
        for (int64_t k = 0; k < take; ++k) signal[k] = src[k * inner];
        rplan.run(signal.data(), 1, nullptr, buf.data(), &half, &scratch);
        for (int64_t k = n / 2 + 1; k < n_out; ++k) buf[k] = std::conj(buf[n - k]);
      } else {
        std::fill(buf.begin(), buf.end(), cplx(0, 0));
        for (int64_t k = 0; k < take; ++k) {
          const float* v = src + k * inner * cin;
          buf[k] = cplx(v[0], cin == 2 ? v[1] : 0.0f);
        }
        if (irfft)
          for (int64_t k = n / 2 + 1; k < n; ++k) buf[k] = std::conj(buf[n - k]);
        plan.run(buf.data(), &scratch);
      }
      float* dst = yout.p + (o * n_out * inner + i) * cout;
      for (int64_t k = 0; k < n_out; ++k) {
        float* w = dst + k * inner * cout;
        w[0] = static_cast<float>(buf[k].real() * scale);
        if (cout == 2) w[1] = static_cast<float>(buf[k].imag() * scale);
      }
    }
  });
  yout.finish(ctx.pool());
}

void stft(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Shape& xs = x_t.shape();
  R1_CHECK(xs.size() == 3 && (xs[2] == 1 || xs[2] == 2), InputError)
      << "STFT: signal must be [batch, length, 1 or 2], got " << x_t.describe();
  int64_t B = xs[0], L = xs[1], cin = xs[2];
  int64_t step = scalar_input(ctx, 1, "frame_step");
  bool has_window = ctx.has_input(2) && ctx.input(2).numel() > 0;
  std::vector<float> window = has_window ? to_floats(ctx.input(2)) : std::vector<float>();
  int64_t n = ctx.has_input(3) && ctx.input(3).numel() > 0 ? scalar_input(ctx, 3, "frame_length")
              : has_window                                 ? static_cast<int64_t>(window.size())
                                                           : L;
  if (has_window)
    R1_CHECK(static_cast<int64_t>(window.size()) == n, InputError)
        << "STFT: the window holds " << window.size() << " values but frame_length is " << n;
  int64_t frames = stft_frames(L, n, step);
  bool onesided = ctx.attrs().get_int("onesided", 1) != 0;
  int64_t bins = onesided ? n / 2 + 1 : n;
  Tensor& y_t = ctx.allocate_output(0, {B, frames, bins, 2}, x_t.dtype());
  if (y_t.numel() == 0) return;
  FloatIn xin = float_input(x_t, ctx.pool());
  FloatOut yout;
  yout.init(y_t);
  // Real signals (the usual case) go through a complex transform of half the length.
  bool real = cin == 1;
  FftPlan plan(real ? 1 : n, false);
  RealFftPlan rplan(real ? n : 1);
  const float* win = has_window ? window.data() : nullptr;
  ctx.pool().parallel_for(0, B * frames, std::max<int64_t>(1, 4096 / n), [&](int64_t b, int64_t e) {
    std::vector<cplx> buf(static_cast<size_t>(n)), scratch, half;
    for (int64_t t = b; t < e; ++t) {
      int64_t bi = t / frames, f = t % frames;
      const float* src = xin.p + (bi * L + f * step) * cin;
      if (real) {
        rplan.run(src, 1, win, buf.data(), &half, &scratch);
        for (int64_t k = n / 2 + 1; k < bins; ++k) buf[k] = std::conj(buf[n - k]);
      } else {
        for (int64_t j = 0; j < n; ++j) {
          float w = win ? win[j] : 1.0f;
          buf[j] = cplx(src[j * cin] * w, src[j * cin + 1] * w);
        }
        plan.run(buf.data(), &scratch);
      }
      float* dst = yout.p + t * bins * 2;
      for (int64_t k = 0; k < bins; ++k) {
        dst[2 * k] = static_cast<float>(buf[k].real());
        dst[2 * k + 1] = static_cast<float>(buf[k].imag());
      }
    }
  });
  yout.finish(ctx.pool());
}

// Writes v (computed in double) into a tensor of any numeric dtype.
void store_doubles(const std::vector<double>& v, Tensor& out) {
  dispatch_numeric(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(static_cast<compute_t<T>>(v[i]));
  });
}

// Cosine-sum windows: w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N), N = size (periodic) or size - 1.
template <int A0N, int A0D, int A2N>  // a0 = A0N / A0D, a1 = 1 - a0 - a2 (Hann, Hamming) or 0.5, a2 = A2N / 100
void cosine_window(KernelContext& ctx) {
  int64_t size = scalar_input(ctx, 0, "size");
  R1_CHECK(size >= 0, InputError) << ctx.node().op_type << ": size must be non-negative, got " << size;
  bool periodic = ctx.attrs().get_int("periodic", 1) != 0;
  double a0 = static_cast<double>(A0N) / A0D, a2 = A2N / 100.0, a1 = A2N ? 0.5 : 1.0 - a0;
  double N = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> w(static_cast<size_t>(size));
  for (int64_t k = 0; k < size; ++k) {
    double t = N > 0 ? 2 * kPi * static_cast<double>(k) / N : 0.0;
    w[k] = a0 - a1 * std::cos(t) + a2 * std::cos(2 * t);
  }
  Tensor& y = ctx.allocate_output(0, {size}, ctx.output_dtype(0));
  store_doubles(w, y);
}

// The triangular mel filter bank, as onnx's reference builds it (bin edges floored to FFT bins).
void mel_weight_matrix(KernelContext& ctx) {
  int64_t mels = scalar_input(ctx, 0, "num_mel_bins");
  int64_t dft_len = scalar_input(ctx, 1, "dft_length");
  int64_t rate = scalar_input(ctx, 2, "sample_rate");
  double lo = ctx.input(3).scalar_as_double(), hi = ctx.input(4).scalar_as_double();
  R1_CHECK(mels > 0 && dft_len > 0 && rate > 0, InputError)
      << "MelWeightMatrix: num_mel_bins, dft_length and sample_rate must be positive, got " << mels << ", " << dft_len
      << ", " << rate;
  R1_CHECK(lo >= 0 && lo < hi && hi <= rate / 2.0, InputError)
      << "MelWeightMatrix: need 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2, got " << lo << ", " << hi;
  int64_t spec_bins = dft_len / 2 + 1;
  auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  double mlo = hz_to_mel(lo), mhi = hz_to_mel(hi), step = (mhi - mlo) / static_cast<double>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    double hz = 700.0 * (std::pow(10.0, (mlo + step * i) / 2595.0) - 1.0);
    edge[i] = static_cast<int64_t>(std::floor(static_cast<double>(dft_len + 1) * hz / static_cast<double>(rate)));
    edge[i] = std::min(edge[i], spec_bins - 1);
  }
  std::vector<double> w(static_cast<size_t>(spec_bins * mels), 0.0);
  for (int64_t i = 0; i < mels; ++i) {
    int64_t l = edge[i], c = edge[i + 1], r = edge[i + 2];
    if (c == l) {
      w[c * mels + i] = 1;
    } else {
      for (int64_t j = l; j <= c; ++j) w[j * mels + i] = static_cast<double>(j - l) / static_cast<double>(c - l);
    }
    for (int64_t j = c; j < r; ++j) w[j * mels + i] = static_cast<double>(r - j) / static_cast<double>(r - c);
  }
  Tensor& y = ctx.allocate_output(0, {spec_bins, mels}, ctx.output_dtype(0));
  store_doubles(w, y);
}

}  // namespace

void register_signal_kernels(KernelTable& t) {
  t.add("DFT", dft);
  t.add("STFT", stft);
  t.add("HannWindow", cosine_window<1, 2, 0>);
  t.add("HammingWindow", cosine_window<25, 46, 0>);
  t.add("BlackmanWindow", cosine_window<42, 100, 8>);
  t.add("MelWeightMatrix", mel_weight_matrix);
}
}  // namespace r1::cpu
