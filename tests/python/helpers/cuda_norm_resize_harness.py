"""One GPU kernel run through _core.run_kernel with plain Python attribute values (typed here), the dtypes and
relative tolerances, and the float64 comparison of gpu/test_cuda_norm_extra.py, test_cuda_resize.py and
test_cuda_conv_transpose.py (cuda/kernels/{normalization,pool,resize,conv_transpose}.cu).

Tolerances: float32 1e-5 relative, float16 / bfloat16 1e-2 (of the output's magnitude or of the sum of absolute
terms for sums).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

from deepseek_r1 import _core

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)
DTYPES = [F32, np.dtype(np.float16), BF16]
RTOL = {F32: 1e-5, np.dtype(np.float16): 1e-2, BF16: 1e-2}
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)


def attr(v):
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, bool) or isinstance(v, (int, np.integer)):
        return ("int", int(v))
    if isinstance(v, float):
        return ("float", float(v))
    v = list(v)
    if all(isinstance(i, (int, np.integer)) for i in v):
        return ("ints", [int(i) for i in v])
    return ("floats", [float(i) for i in v])


def run(dev, op, inputs, attrs=None, opset=17, num_outputs=1):
    a = {k: attr(v) for k, v in (attrs or {}).items()}
    return _core.run_kernel(dev, op, list(inputs), a, opset, num_outputs)


def rand(rng, shape, dtype, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def f64(a):
    return np.asarray(a).astype(np.float64)


def assert_close(got, want, dtype, scale=None):
    """|got - want| <= rtol * (|want| or the given per-element scale) + a small absolute term."""
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype]
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    ref = np.abs(want) if scale is None else np.broadcast_to(scale, want.shape)
    bound = rtol * (ref + 1.0) if dtype != F32 else rtol * ref + 1e-6
    err = np.abs(f64(got) - want)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} differ; worst {err.max()} (got {f64(got)[bad][:5]}, want {want[bad][:5]})"
    )
