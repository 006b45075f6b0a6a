// Complex discrete Fourier transforms of any length, for DFT and STFT: iterative radix-2 for powers
// of two, Bluestein's chirp-z (a radix-2 convolution) for other lengths above a few dozen points
// (audio frames of 400 samples are common), a direct sum for short ones. Computed in double so a
// float32 transform is exact to float rounding whatever the length.
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
  enum class Kind { Radix2, Bluestein, Direct };
  void radix2(cplx* data) const;
  int64_t n_;
  bool inverse_;
  Kind kind_;
  std::vector<cplx> twiddle_;  // radix-2: e^{-+2 pi i k / n}, k < n/2; direct: k < n
  std::vector<uint32_t> bitrev_;
  // Bluestein: the chirp, and the FFT (length m) of its conjugate, and the length-m plans.
  std::vector<cplx> chirp_, chirp_fft_;
  std::unique_ptr<FftPlan> fwd_m_, inv_m_;
};

}  // namespace r1::cpu
