"""Random arrays of every dtype, hypothesis shape strategies and a bit-exact comparison, for the shape / data-movement
kernel tests (kernels/test_kernels_views.py, test_kernels_movement.py, test_kernels_indexing.py).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

BF16 = np.dtype(ml_dtypes.bfloat16)
ALL_DTYPES = [np.dtype(t) for t in (np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_)] + [BF16]
NUM_DTYPES = [d for d in ALL_DTYPES if d != np.bool_]

dtypes = st.sampled_from(ALL_DTYPES)
num_dtypes = st.sampled_from(NUM_DTYPES)


def rand(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Random values of dtype, never all zero (unless empty)."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    if dtype == np.bool_:
        a = rng.integers(0, 2, size=shape).astype(np.bool_)
    elif dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else -50
        a = rng.integers(lo, 50, size=shape).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(np.float32).astype(dtype)
    if a.size and not a.any():
        a.flat[0] = 1
    return a


def shapes(min_rank=0, max_rank=4, min_side=1, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


def seeds():
    return st.integers(0, 2**31 - 1)


def same(got, want):
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    if got.dtype == BF16:
        got, want = got.reshape(-1).view(np.uint16), want.reshape(-1).view(np.uint16)
    np.testing.assert_array_equal(got, want)
