"""Dtype groups, tolerances, random inputs, broadcast-shape strategies and the float64 comparison of the elementwise
kernel tests (kernels/test_kernels_unary.py, test_kernels_binary.py, test_kernels_logic_cast.py).
"""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
FLOATS = [F32, F16, BF16]
INTS = [np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int8), np.dtype(np.uint8)]
SIGNED_INTS = [np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int8)]
NUMERIC = FLOATS + INTS
ALL = NUMERIC + [np.dtype(np.bool_)]


def tol(dt, rtol32=1e-5, atol32=1e-6):
    dt = np.dtype(dt)
    if dt == F32:
        return dict(rtol=rtol32, atol=atol32)
    if dt == F16:
        return dict(rtol=1e-2, atol=1e-3)
    if dt == BF16:
        return dict(rtol=2e-2, atol=1e-2)
    return dict(rtol=0, atol=0)


def make_array(seed, shape, dt, low=None, high=None, nonzero=False):
    """Random values of dtype dt; never all zeros. Floats: standard normal, or uniform in [low, high)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    if dt == np.bool_:
        a = rng.integers(0, 2, size=shape).astype(bool)
        if a.size and not a.any():
            a.flat[0] = True
        return a
    if dt.kind in "iu":
        lo = low if low is not None else (0 if dt.kind == "u" else -5)
        hi = high if high is not None else 6
        a = np.asarray(rng.integers(lo, hi, size=shape))
        if nonzero:
            a[a == 0] = 1
        a = a.astype(dt)
        if a.size and not a.any():
            a.flat[0] = 1
        return a
    if low is not None:
        a = rng.uniform(low, high, size=shape)
    else:
        a = rng.standard_normal(shape)
    if nonzero:
        a[np.abs(a) < 0.1] = 0.5
    if a.size and not a.any():
        a.flat[0] = 1.0
    return np.asarray(a.astype(dt))


def f64(a):
    return np.asarray(a).astype(np.float64)


def check(got, want, dt, **kw):
    want = np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype or np.dtype(dt).kind in "fV" or want.dtype.kind == "f", (got.dtype, want.dtype)
    if got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(f64(got), f64(want.astype(got.dtype)), equal_nan=True, **tol(dt, **kw))


shapes = st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**31 - 1)


@st.composite
def bcast_shapes(draw, n=2):
    """n shapes (rank >= 1) that broadcast together: suffixes of one shape with some dims set to 1."""
    out = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    res = []
    for _ in range(n):
        r = draw(st.integers(1, len(out)))
        s = [1 if draw(st.booleans()) else d for d in out[len(out) - r :]]
        res.append(tuple(s))
    return res


def npe():
    """Silence numpy warnings (overflow, invalid) while computing references."""
    w = warnings.catch_warnings()
    return w
