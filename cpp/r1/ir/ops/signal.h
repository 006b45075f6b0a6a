// The size rules of DFT and STFT, shared by their schemas and their kernels.
#pragma once
#include <cstdint>

#include "r1/core/error.h"

namespace r1 {

// DFT's axis over an input of `rank` dims (the last dim holds real/imaginary and is never the axis).
inline int dft_axis(int64_t axis, int rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  R1_CHECK(a >= 0 && a < rank - 1, InputError)
      << "DFT: axis " << axis << " out of range for rank " << rank << " (the last dim holds real/imaginary)";
  return static_cast<int>(a);
}

// Length of DFT's output along its axis for a transform of length n.
inline int64_t dft_output_length(int64_t n, bool inverse, bool onesided) {
  return onesided && !inverse ? n / 2 + 1 : n;
}

// Frames of an STFT over `length` samples: frames of n samples every `step` samples.
inline int64_t stft_frames(int64_t length, int64_t n, int64_t step) {
  R1_CHECK(step > 0, InputError) << "STFT: frame_step must be positive, got " << step;
  R1_CHECK(n > 0 && n <= length, InputError)
      << "STFT: frame_length " << n << " must be positive and at most the signal length " << length;
  return 1 + (length - n) / step;
}

}  // namespace r1
