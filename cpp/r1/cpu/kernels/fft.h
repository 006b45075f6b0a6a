// Discrete Fourier transforms of any length, for DFT and STFT. FftPlan is a complex transform:
// iterative radix-2 for powers of two, recursive mixed radix (Cooley-Tukey) when every prime factor is
// small (400 = 2^4 5^2, the 25 ms speech frame), Bluestein's chirp-z (a radix-2 convolution) otherwise.
// RealFftPlan transforms a real signal through a complex one of half the length. Computed in double
// so a float32 transform is exact to float rounding whatever the length.
#pragma once
#include <complex>
#include <cstdint>
#include <memory>
#include <vector>

namespace r1::cpu {

using cplx = std::complex<double>;

class FftPlan {
 public:
  // The transform of length n; inverse uses e^{+i...} (no 1/n scaling: the caller scales).
  FftPlan(int64_t n, bool inverse);
  ~FftPlan();
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  int64_t size() const { return n_; }
  // Transforms data (n values) in place; scratch is resized as needed (one per thread).
  void run(cplx* data, std::vector<cplx>* scratch) const;

 private:
  enum class Kind { Radix2, Mixed, Bluestein };
  void radix2(cplx* data) const;
  void mixed(const cplx* in, cplx* out, int64_t n, int64_t stride, size_t level) const;
  int64_t n_;
  bool inverse_;
  Kind kind_;
  std::vector<cplx> twiddle_;  // e^{-+2 pi i k / n}: k < n/2 (radix-2), k < n (mixed)
  std::vector<uint32_t> bitrev_;
  std::vector<int64_t> factors_;  // mixed radix: the radices, largest level first
  // Bluestein: the chirp, and the FFT (length m) of its conjugate, and the length-m plans.
  std::vector<cplx> chirp_, chirp_fft_;
  std::unique_ptr<FftPlan> fwd_m_, inv_m_;
};

// The forward transform of n real values: bins 0..n/2 (the rest are their conjugates).
class RealFftPlan {
 public:
  explicit RealFftPlan(int64_t n);
  int64_t size() const { return n_; }
  // x: n values (stride between them: x_stride); out: n/2 + 1 bins.
  void run(const float* x, int64_t x_stride, const float* window, cplx* out, std::vector<cplx>* buf,
           std::vector<cplx>* scratch) const;

 private:
  int64_t n_;
  FftPlan half_;            // length n/2 (n even) or n (odd: a plain complex transform)
  std::vector<cplx> post_;  // e^{-2 pi i k / n}, k <= n/2, for splitting the half-length result
};

}  // namespace r1::cpu
