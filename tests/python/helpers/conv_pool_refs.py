"""Dtypes, tolerances, random inputs, the float64 comparison and the output geometry (sizes and pads of a window op)
shared by the conv, pool and resize kernel tests (kernels/test_kernels_conv.py, test_kernels_pool.py,
test_kernels_resize.py).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOATS = [np.dtype(np.float32), np.dtype(np.float16), BF16]


def tol(dt, rtol32=1e-4, atol32=1e-4):
    dt = np.dtype(dt)
    if dt == np.float32:
        return dict(rtol=rtol32, atol=atol32)
    if dt == np.float16:
        return dict(rtol=1e-2, atol=2e-2)
    if dt == BF16:
        return dict(rtol=3e-2, atol=6e-2)
    return dict(rtol=0, atol=0)


def arr(seed, shape, dt):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    if dt.kind in "iu":
        a = rng.integers(0 if dt.kind == "u" else -50, 60, size=shape).astype(dt)
    else:
        a = rng.standard_normal(shape).astype(dt)
    if a.size and not a.any():
        a.flat[0] = 1
    return np.asarray(a)


def f64(a):
    return np.asarray(a).astype(np.float64)


def check(got, want, dt, **kw):
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if np.dtype(dt).kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(f64(got), f64(want), **tol(dt, **kw))


# ------------------------------------------------------------------------------------ geometry
def out_and_pads(ins, k, s, d, pads, auto_pad, ceil_mode=False):
    nd = len(ins)
    outs, pb, pe = [], [], []
    for i in range(nd):
        ek = (k[i] - 1) * d[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-ins[i] // s[i])
            tot = max(0, (o - 1) * s[i] + ek - ins[i])
            lo = tot // 2 if auto_pad == "SAME_UPPER" else tot - tot // 2
            outs.append(o), pb.append(lo), pe.append(tot - lo)
        elif auto_pad == "VALID":
            outs.append((ins[i] - ek) // s[i] + 1), pb.append(0), pe.append(0)
        else:
            num = ins[i] + pads[i] + pads[nd + i] - ek
            if ceil_mode:
                o = -(-num // s[i]) + 1
                if (o - 1) * s[i] >= ins[i] + pads[i]:
                    o -= 1
            else:
                o = num // s[i] + 1
            outs.append(o), pb.append(pads[i]), pe.append(pads[nd + i])
    return outs, pb, pe
