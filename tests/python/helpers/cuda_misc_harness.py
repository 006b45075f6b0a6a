"""One GPU kernel run through _core.run_kernel, dtypes and their ONNX codes, random inputs of every dtype, the exact and
the tolerance checks, for gpu/test_cuda_logic.py, test_cuda_misc.py and test_cuda_generators.py
(cuda/kernels/{logic,hardmax,cumsum,topk,space_depth,one_hot,eye_like,constant_of_shape,range}.cu).

Float results are compared against float64 references computed from the inputs already rounded to their dtype:
float32 1e-5 relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
FLOATS = [F32, F16, BF16]
INTS = [np.dtype(t) for t in (np.int8, np.uint8, np.int32, np.int64)]
ALL = FLOATS + INTS + [np.dtype(np.bool_)]
CODES = {
    F32: 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    F16: 10,
    BF16: 16,
}
TOL = {F32: (1e-5, 1e-6), F16: (1e-2, 1e-2), BF16: (1e-2, 1e-2)}
seeds = st.integers(0, 2**31 - 1)
shapes = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=7)


def assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.tobytes() == want.tobytes(), (got, want)


def assert_close(got, want, dtype, atol=None):
    rtol, a = TOL[np.dtype(dtype)]
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(
        got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=a if atol is None else max(a, atol)
    )
