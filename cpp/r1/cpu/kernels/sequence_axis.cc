// CPU kernels of ReverseSequence and TensorScatter: copies of whole inner rows along a sequence axis.
#include <cstring>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"

namespace r1::cpu {
namespace {

void reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> lens = ctx.input(1).to_int64_vector();
  Tensor& y = ctx.output(0);
  int batch_axis = static_cast<int>(ctx.attrs().get_int("batch_axis", 1));
  int time_axis = static_cast<int>(ctx.attrs().get_int("time_axis", 0));
  const Shape& s = x.shape();
  int64_t B = s[batch_axis], T = s[time_axis];
  R1_CHECK(static_cast<int64_t>(lens.size()) == B, InputError)
      << "ReverseSequence: sequence_lens holds " << lens.size() << " values for a batch of " << B;
  for (int64_t l : lens)
    R1_CHECK(l >= 0 && l <= T, InputError)
        << "ReverseSequence: sequence length " << l << " out of range [0, " << T << "]";
  int64_t inner = 1;
  for (int i = 2; i < x.rank(); ++i) inner *= s[i];
  size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
  // Offset of (batch b, time t) rows in either layout.
  auto off = [&](int64_t b, int64_t t) { return (time_axis == 0 ? t * B + b : b * T + t) * row; };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      int64_t from = t < lens[b] ? lens[b] - 1 - t : t;
      std::memcpy(dst + off(b, t), src + off(b, from), row);
    }
}

// present = past with update's rows written from write_indices[b] along the axis (wrapping in
// circular mode).
void tensor_scatter(KernelContext& ctx) {
  const Tensor& past = ctx.input(0);
  const Tensor& upd = ctx.input(1);
  const Shape& ps = past.shape();
  const Shape& us = upd.shape();
  int axis = normalize_axis(ctx.attrs().get_int("axis", -2), past.rank(), "TensorScatter axis");
  bool circular = ctx.attrs().get_string("mode", "linear") == "circular";
  for (int i = 0; i < past.rank(); ++i)
    R1_CHECK(i == axis ? us[i] <= ps[i] : us[i] == ps[i], InputError)
        << "TensorScatter: update " << upd.describe() << " does not fit the cache " << past.describe();
  int64_t B = ps[0];
  std::vector<int64_t> wi(static_cast<size_t>(B), 0);
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) wi = ctx.input(2).to_int64_vector();
  R1_CHECK(static_cast<int64_t>(wi.size()) == B, InputError)
      << "TensorScatter: write_indices holds " << wi.size() << " values for a batch of " << B;
  int64_t S = ps[axis], U = us[axis], mid = 1, inner = 1;
  for (int i = 1; i < axis; ++i) mid *= ps[i];
  for (int i = axis + 1; i < past.rank(); ++i) inner *= ps[i];
  for (int64_t w : wi)
    R1_CHECK(w >= 0 && (circular ? w < S : w + U <= S), InputError)
        << "TensorScatter: write index " << w << " with " << U << " rows does not fit a cache of " << S << " rows";
  Tensor& y = ctx.output(0);
  if (y.raw() != past.raw() && past.nbytes()) std::memcpy(y.raw(), past.raw(), past.nbytes());
  size_t row = static_cast<size_t>(inner) * dtype_size(past.dtype());
  const char* src = static_cast<const char*>(upd.raw());
  char* dst = static_cast<char*>(y.raw());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t m = 0; m < mid; ++m)
      for (int64_t u = 0; u < U; ++u) {
        int64_t pos = circular ? (wi[b] + u) % S : wi[b] + u;
        std::memcpy(dst + ((b * mid + m) * S + pos) * row, src + ((b * mid + m) * U + u) * row, row);
      }
}

}  // namespace

void register_sequence_axis_kernels(KernelTable& t) {
  t.add("ReverseSequence", reverse_sequence);
  t.add("TensorScatter", tensor_scatter).in_place(1u);  // the cache is updated where it lies
}
}  // namespace r1::cpu
