"""GEMM references shared by the GPU GEMM tests (test_cuda_gemm.py: our kernels; test_cublas.py: cuBLASLt):
float64 results with the magnitude |alpha|*|A|@|B| (+ |beta*C|) each element's error is bounded by."""

from __future__ import annotations

from math import erf as _erf

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
DTYPES = [F32, F16, BF16]
DTYPE_IDS = ["f32", "f16", "bf16"]


def rand(rng, shape, dtype, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def f64(x):
    return None if x is None else np.asarray(x).astype(np.float64)


def rtol_for(dtype, k):
    if np.dtype(dtype) == F32:
        return 1e-4 if k >= 256 else 1e-5
    return 1e-2


def assert_gemm_close(got, want, mag, dtype, k, rtol=None):
    rtol = rtol_for(dtype, k) if rtol is None else rtol
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    g = got.astype(np.float64)
    # The floor covers results that underflow to (sub)normals of the dtype (tiny alpha in fp16).
    bound = rtol * (np.abs(want) + np.asarray(mag, np.float64)) + 1e-6
    err = np.abs(g - want)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} elements off; worst at {np.unravel_index(np.argmax(err - bound), err.shape)}: "
        f"got {g[bad][:5]} want {want[bad][:5]}"
    )


def gemm_ref(a, b, c, ta, tb, alpha, beta):
    A, B = f64(a), f64(b)
    if ta:
        A = A.T
    if tb:
        B = B.T
    want = alpha * (A @ B)
    mag = abs(alpha) * (np.abs(A) @ np.abs(B))
    if c is not None and beta != 0:
        want = want + beta * f64(c)
        mag = mag + abs(beta) * np.abs(f64(c))
    return want, np.broadcast_to(mag, want.shape)


def c_shapes(m, n):
    return [None, (), (1,), (n,), (1, n), (m, 1), (m, n), (1, 1)]


def erf(x):
    return np.vectorize(_erf, otypes=[np.float64])(x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))
