// FftPlan: see fft.h.
#include "r1/cpu/kernels/fft.h"

#include <cmath>

namespace r1::cpu {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kDirectMax = 32;  // below this a direct sum beats Bluestein's three FFTs

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

FftPlan::FftPlan(int64_t n, bool inverse) : n_(n), inverse_(inverse) {
  double sign = inverse ? 1.0 : -1.0;
  if (is_pow2(n)) {
    kind_ = Kind::Radix2;
    twiddle_.resize(static_cast<size_t>(n / 2));
    for (int64_t k = 0; k < n / 2; ++k) twiddle_[k] = std::polar(1.0, sign * 2 * kPi * k / n);
    int bits = 0;
    while ((int64_t{1} << bits) < n) ++bits;
    bitrev_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      uint32_t r = 0;
      for (int b = 0; b < bits; ++b)
        if (i & (int64_t{1} << b)) r |= 1u << (bits - 1 - b);
      bitrev_[i] = r;
    }
  } else if (n <= kDirectMax) {
    kind_ = Kind::Direct;
    twiddle_.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) twiddle_[k] = std::polar(1.0, sign * 2 * kPi * k / n);
  } else {
    // X[k] = w[k] * sum_j (x[j] w[j]) conj(w[k - j]) with w[k] = e^{-+i pi k^2 / n}: a convolution of
    // length m >= 2n - 1, done with radix-2 FFTs.
    kind_ = Kind::Bluestein;
    int64_t m = 1;
    while (m < 2 * n - 1) m <<= 1;
    chirp_.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      int64_t k2 = (k * k) % (2 * n);  // exact angle: k^2 overflows double precision for large k
      chirp_[k] = std::polar(1.0, sign * kPi * static_cast<double>(k2) / n);
    }
    fwd_m_ = std::make_unique<FftPlan>(m, false);
    inv_m_ = std::make_unique<FftPlan>(m, true);
    chirp_fft_.assign(static_cast<size_t>(m), cplx(0, 0));
    for (int64_t k = 0; k < n; ++k) {
      chirp_fft_[k] = std::conj(chirp_[k]);
      if (k > 0) chirp_fft_[m - k] = std::conj(chirp_[k]);
    }
    fwd_m_->radix2(chirp_fft_.data());
  }
}

FftPlan::~FftPlan() = default;

void FftPlan::radix2(cplx* a) const {
  int64_t n = n_;
  for (int64_t i = 0; i < n; ++i)
    if (i < bitrev_[i]) std::swap(a[i], a[bitrev_[i]]);
  for (int64_t len = 2; len <= n; len <<= 1) {
    int64_t half = len / 2, step = n / len;
    for (int64_t s = 0; s < n; s += len)
      for (int64_t j = 0; j < half; ++j) {
        cplx t = twiddle_[j * step] * a[s + j + half];
        a[s + j + half] = a[s + j] - t;
        a[s + j] += t;
      }
  }
}

void FftPlan::run(cplx* data, std::vector<cplx>* scratch) const {
  switch (kind_) {
    case Kind::Radix2:
      radix2(data);
      return;
    case Kind::Direct: {
      scratch->assign(data, data + n_);
      for (int64_t k = 0; k < n_; ++k) {
        cplx acc(0, 0);
        for (int64_t j = 0; j < n_; ++j) acc += (*scratch)[j] * twiddle_[(j * k) % n_];
        data[k] = acc;
      }
      return;
    }
    case Kind::Bluestein: {
      int64_t m = fwd_m_->size();
      scratch->assign(static_cast<size_t>(m), cplx(0, 0));
      cplx* a = scratch->data();
      for (int64_t k = 0; k < n_; ++k) a[k] = data[k] * chirp_[k];
      fwd_m_->radix2(a);
      for (int64_t k = 0; k < m; ++k) a[k] *= chirp_fft_[k];
      inv_m_->radix2(a);
      double inv_m = 1.0 / static_cast<double>(m);
      for (int64_t k = 0; k < n_; ++k) data[k] = a[k] * chirp_[k] * inv_m;
      return;
    }
  }
}

}  // namespace r1::cpu
