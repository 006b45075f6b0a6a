// FftPlan and RealFftPlan: see fft.h.
#include "r1/cpu/kernels/fft.h"

#include <cmath>

namespace r1::cpu {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Largest prime factor a mixed-radix level takes (an O(p^2) butterfly); beyond it, Bluestein.
constexpr int64_t kMaxRadix = 31;

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// Radices for a mixed-radix plan (4s first, then 2, 3, 5, ...), or {} when a prime factor is too large.
std::vector<int64_t> radices(int64_t n) {
  std::vector<int64_t> f;
  while (n % 4 == 0) {
    f.push_back(4);
    n /= 4;
  }
  for (int64_t p = 2; p <= kMaxRadix && n > 1; ++p)
    while (n % p == 0) {
      f.push_back(p);
      n /= p;
    }
  if (n > 1) return {};
  return f;
}

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
    return;
  }
  factors_ = radices(n);
  if (!factors_.empty()) {
    kind_ = Kind::Mixed;
    twiddle_.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) twiddle_[k] = std::polar(1.0, sign * 2 * kPi * k / n);
    return;
  }
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

// Decimation in time: out[0..n) is the transform of in[0], in[stride], ... (n values). The p
// sub-transforms of length m = n / p land in out[j*m ..), then one radix-p butterfly per k < m.
void FftPlan::mixed(const cplx* in, cplx* out, int64_t n, int64_t stride, size_t level) const {
  int64_t p = factors_[level], m = n / p;
  if (m == 1) {
    for (int64_t j = 0; j < p; ++j) out[j] = in[j * stride];
  } else {
    for (int64_t j = 0; j < p; ++j) mixed(in + j * stride, out + j * m, m, stride * p, level + 1);
  }
  int64_t tw = n_ / n;  // twiddle_[tw * e] = e^{-+2 pi i e / n}
  int64_t tp = n_ / p;  // twiddle_[tp * e] = e^{-+2 pi i e / p}
  cplx t[kMaxRadix + 1];
  for (int64_t k = 0; k < m; ++k) {
    for (int64_t j = 0; j < p; ++j) t[j] = j == 0 ? out[k] : out[j * m + k] * twiddle_[tw * j * k];
    if (p == 2) {
      out[k] = t[0] + t[1];
      out[k + m] = t[0] - t[1];
    } else if (p == 4) {
      cplx a = t[0] + t[2], b = t[0] - t[2], c = t[1] + t[3], d = t[1] - t[3];
      cplx di = inverse_ ? cplx(-d.imag(), d.real()) : cplx(d.imag(), -d.real());  // d * (-+i)
      out[k] = a + c;
      out[k + m] = b + di;
      out[k + 2 * m] = a - c;
      out[k + 3 * m] = b - di;
    } else {
      for (int64_t q = 0; q < p; ++q) {
        cplx acc = t[0];
        for (int64_t j = 1; j < p; ++j) acc += t[j] * twiddle_[tp * ((j * q) % p)];
        out[k + q * m] = acc;
      }
    }
  }
}

void FftPlan::run(cplx* data, std::vector<cplx>* scratch) const {
  switch (kind_) {
    case Kind::Radix2:
      radix2(data);
      return;
    case Kind::Mixed:
      scratch->assign(data, data + n_);
      mixed(scratch->data(), data, n_, 1, 0);
      return;
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

RealFftPlan::RealFftPlan(int64_t n) : n_(n), half_(n % 2 == 0 ? n / 2 : n, false) {
  if (n % 2 == 0) {
    post_.resize(static_cast<size_t>(n / 2 + 1));
    for (int64_t k = 0; k <= n / 2; ++k) post_[k] = std::polar(1.0, -2 * kPi * k / n);
  }
}

// Even n: z[j] = x[2j] + i x[2j+1] has Z = E + i O (E, O: transforms of the even and odd samples),
// so E[k] = (Z[k] + conj(Z[h-k])) / 2, O[k] = (Z[k] - conj(Z[h-k])) / 2i and X[k] = E[k] + w^k O[k].
void RealFftPlan::run(const float* x, int64_t xs, const float* window, cplx* out, std::vector<cplx>* buf,
                      std::vector<cplx>* scratch) const {
  auto at = [&](int64_t j) { return static_cast<double>(x[j * xs]) * (window ? window[j] : 1.0f); };
  if (n_ % 2 != 0) {
    buf->resize(static_cast<size_t>(n_));
    for (int64_t j = 0; j < n_; ++j) (*buf)[j] = cplx(at(j), 0);
    half_.run(buf->data(), scratch);
    for (int64_t k = 0; k <= n_ / 2; ++k) out[k] = (*buf)[k];
    return;
  }
  int64_t h = n_ / 2;
  buf->resize(static_cast<size_t>(h));
  cplx* z = buf->data();
  for (int64_t j = 0; j < h; ++j) z[j] = cplx(at(2 * j), at(2 * j + 1));
  half_.run(z, scratch);
  for (int64_t k = 0; k <= h; ++k) {
    cplx zk = z[k % h], zc = std::conj(z[(h - k) % h]);
    cplx e = (zk + zc) * 0.5, o = (zk - zc) * cplx(0, -0.5);
    out[k] = e + post_[k] * o;
  }
}

}  // namespace r1::cpu
