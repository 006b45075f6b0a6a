// Schemas of the signal-processing ops: DFT, STFT, the window generators (HannWindow,
// HammingWindow, BlackmanWindow) and MelWeightMatrix. A complex tensor is a real one whose last dim
// is 2 (real, imaginary); a real signal may carry a last dim of 1.
#include "r1/ir/ops/families.h"
#include "r1/ir/ops/infer_util.h"
#include "r1/ir/ops/signal.h"

namespace r1 {
namespace {

// A scalar int input's value when known at this point (compile time: a constant), else -1.
int64_t known_scalar(InferContext& c, size_t i) {
  std::vector<int64_t> v;
  if (!c.has_input(i) || !c.input_ints(i, &v)) return -1;
  R1_CHECK(v.size() == 1, InputError) << c.node().op_type << ": input " << i << " must be a scalar, got " << v.size()
                                      << " values";
  return v[0];
}

void check_int_input(InferContext& c, size_t i, const char* what) {
  if (!c.has_input(i)) return;
  DType t = c.input_dtype(i);
  R1_CHECK(t == DType::Int64 || t == DType::Int32, ModelError)
      << c.node().op_type << ": " << what << " must be int32 or int64, got " << dtype_name(t);
}

// The dtype named by a generator's output_datatype attribute (default float32).
DType generated_dtype(InferContext& c) {
  int64_t code = c.attrs().get_int("output_datatype", 1);
  R1_CHECK(dtype_is_valid_code(static_cast<int>(code)) && static_cast<DType>(code) != DType::Bool, ModelError)
      << c.node().op_type << " (node '" << c.node().name << "'): output_datatype " << code << " is not supported";
  return static_cast<DType>(code);
}

void infer_dft(InferContext& c) {
  check_float(c, 0, "DFT", "input");
  check_int_input(c, 1, "dft_length");
  check_int_input(c, 2, "axis");
  const Shape& x = c.input_shape(0);
  int rank = static_cast<int>(x.size());
  R1_CHECK(rank >= 2, InputError) << "DFT: input must have a signal dim and a last dim of 1 or 2, got rank " << rank;
  R1_CHECK(!is_known(x[rank - 1]) || x[rank - 1] == 1 || x[rank - 1] == 2, InputError)
      << "DFT: the last dim must be 1 (real) or 2 (complex), got " << x[rank - 1];
  bool inverse = c.attrs().get_int("inverse", 0) != 0;
  bool onesided = c.attrs().get_int("onesided", 0) != 0;
  int64_t axis_v = c.opset() >= 20 ? -2 : c.attrs().get_int("axis", 1);
  if (c.opset() >= 20 && c.has_input(2)) {
    axis_v = known_scalar(c, 2);
    if (axis_v == -1 && !c.input_value(2)) {  // axis known only at run time
      c.set_output(0, c.input_dtype(0), Shape(rank, kUnknownDim));
      return;
    }
  }
  int axis = dft_axis(axis_v, rank);
  int64_t n = c.has_input(1) ? known_scalar(c, 1) : -1;
  if (!c.has_input(1) && is_known(x[axis])) n = inverse && onesided ? 2 * (x[axis] - 1) : x[axis];
  if (n >= 0 || c.input_value(1)) R1_CHECK(n > 0, InputError) << "DFT: dft_length must be positive, got " << n;
  Shape out = x;
  out[axis] = n < 0 ? kUnknownDim : dft_output_length(n, inverse, onesided);
  out[rank - 1] = inverse && onesided ? 1 : 2;
  c.set_output(0, c.input_dtype(0), out);
}

void infer_stft(InferContext& c) {
  check_float(c, 0, "STFT", "signal");
  check_int_input(c, 1, "frame_step");
  check_int_input(c, 3, "frame_length");
  if (c.has_input(2)) check_float(c, 2, "STFT", "window");
  const Shape& x = c.input_shape(0);
  R1_CHECK(x.size() == 3, InputError) << "STFT: signal must be [batch, length, 1 or 2], got " << shape_str(x);
  R1_CHECK(!is_known(x[2]) || x[2] == 1 || x[2] == 2, InputError)
      << "STFT: the signal's last dim must be 1 (real) or 2 (complex), got " << x[2];
  bool onesided = c.attrs().get_int("onesided", 1) != 0;
  int64_t step = known_scalar(c, 1);
  if (c.input_value(1)) R1_CHECK(step > 0, InputError) << "STFT: frame_step must be positive, got " << step;
  int64_t n = c.has_input(3) ? known_scalar(c, 3) : -1;
  if (n < 0 && c.has_input(2) && c.input_has_shape(2)) {
    const Shape& w = c.input_shape(2);
    R1_CHECK(w.size() == 1, InputError) << "STFT: window must be 1-D, got " << shape_str(w);
    if (is_known(w[0])) n = w[0];
  }
  if (n < 0 && !c.has_input(2) && !c.has_input(3)) n = x[1];
  Shape out = {x[0], kUnknownDim, kUnknownDim, 2};
  if (n >= 0) out[2] = onesided ? n / 2 + 1 : n;
  if (n > 0 && step > 0 && is_known(x[1])) out[1] = stft_frames(x[1], n, step);
  c.set_output(0, c.input_dtype(0), out);
}

void infer_window(InferContext& c) {
  check_int_input(c, 0, "size");
  DType t = generated_dtype(c);
  int64_t n = known_scalar(c, 0);
  if (n < 0 && !c.input_value(0)) {
    c.set_output(0, t, {kUnknownDim});
    return;
  }
  R1_CHECK(n >= 0, InputError) << c.node().op_type << ": size must be non-negative, got " << n;
  c.set_output(0, t, {n});
}

void infer_mel(InferContext& c) {
  for (size_t i = 0; i < 3; ++i) check_int_input(c, i, i == 0 ? "num_mel_bins" : i == 1 ? "dft_length" : "sample_rate");
  check_float(c, 3, "MelWeightMatrix", "lower_edge_hertz");
  check_float(c, 4, "MelWeightMatrix", "upper_edge_hertz");
  DType t = generated_dtype(c);
  int64_t bins = known_scalar(c, 0), dft = known_scalar(c, 1);
  c.set_output(0, t, {dft < 0 ? kUnknownDim : dft / 2 + 1, bins < 0 ? kUnknownDim : bins});
}

}  // namespace

void register_signal_ops(OpRegistry& reg) {
  reg.add(with_opsets(schema("DFT", 1, 3, infer_dft), 17));
  reg.add(with_opsets(schema("STFT", 2, 4, infer_stft), 17));
  for (const char* w : {"HannWindow", "HammingWindow", "BlackmanWindow"})
    reg.add(with_opsets(schema(w, 1, 1, infer_window), 17));
  reg.add(with_opsets(schema("MelWeightMatrix", 5, 5, infer_mel), 17));
}
}  // namespace r1
