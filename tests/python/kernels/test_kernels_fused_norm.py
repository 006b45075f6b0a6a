"""Property tests of r1::SkipLayerNorm and r1::Gelu (cpp/r1/cpu/kernels/skip_layernorm.cc, gelu.cc,
act_avx512.cc, norm_avx512.cc) and of the ONNX Softmax / LayerNormalization / Gelu kernels that share their vectorised
rows, against float64 numpy references."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek_r1 as r1
from helpers.op_harness import make_op_model, run_op

BF16 = np.dtype(ml_dtypes.bfloat16)
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def run_r1(op, inputs, attrs=None, n_outputs=1, threads=1):
    model = make_op_model(op, inputs, attrs, (), n_outputs, opset=1, domain="r1")
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)), num_threads=threads)
    out = eng.run([a for a in inputs if a is not None])
    return [out[f"out{k}"] for k in range(n_outputs)]


def f64(a):
    return np.asarray(a).astype(np.float64)


def gelu_ref(x, approximate="none"):
    x = f64(x)
    if approximate == "tanh":
        with np.errstate(over="ignore", invalid="ignore"):
            u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            return np.where(x == -np.inf, -0.0, 0.5 * x * (1 + np.tanh(u)))
    # erfc for negative x: no cancellation in the float64 reference either
    with np.errstate(invalid="ignore"):
        y = np.where(x < 0, 0.5 * x * _erfc(-x / math.sqrt(2)), 0.5 * x * (1 + _erf(x / math.sqrt(2))))
    return np.where(x == -np.inf, -0.0, y)


def layernorm_ref(s, gamma, beta, eps):
    s = f64(s)
    mean = s.mean(-1, keepdims=True)
    var = ((s - mean) ** 2).mean(-1, keepdims=True)
    y = (s - mean) / np.sqrt(var + eps) * f64(gamma)
    return y + f64(beta) if beta is not None else y


# ---- SkipLayerNorm

shapes = st.tuples(st.sampled_from([(), (1,), (3,), (2, 5)]), st.sampled_from([1, 7, 16, 33, 100, 768]))


@settings(max_examples=50, deadline=None)
@given(
    shape=shapes,
    skip_kind=st.sampled_from(["same", "hidden", "row", "lead1"]),
    has_beta=st.booleans(),
    has_bias=st.booleans(),
    want_sum=st.booleans(),
    offset=st.sampled_from([0.0, 100.0]),
    threads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_skip_layernorm_fp32(shape, skip_kind, has_beta, has_bias, want_sum, offset, threads, seed):
    lead, n = shape
    rng = np.random.default_rng(seed)
    xs = (*lead, n)
    skip_shape = {"same": xs, "hidden": (n,), "row": (*lead, 1), "lead1": (1,) * len(lead) + (n,)}[skip_kind]
    x = (rng.standard_normal(xs) + offset).astype(np.float32)  # a large mean checks the precision of the stats
    skip = rng.standard_normal(skip_shape).astype(np.float32)
    gamma = rng.standard_normal(n).astype(np.float32)
    beta = rng.standard_normal(n).astype(np.float32) if has_beta else None
    bias = rng.standard_normal(n).astype(np.float32) if has_bias else None
    eps = 1e-5 if n > 1 else 1e-2
    outs = run_r1("SkipLayerNorm", [x, skip, gamma, beta, bias], {"epsilon": eps}, 2 if want_sum else 1, threads)
    s = f64(x) + f64(skip) + (f64(bias) if bias is not None else 0)
    tol = dict(rtol=1e-5, atol=2e-5) if offset == 0 else dict(rtol=1e-4, atol=1e-3)  # inputs round at 100
    np.testing.assert_allclose(outs[0], layernorm_ref(s, gamma, beta, eps), **tol)
    if want_sum:
        np.testing.assert_allclose(outs[1], s, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, BF16])
def test_skip_layernorm_16bit(dtype):
    rng = np.random.default_rng(2)
    x, skip = (rng.standard_normal((2, 5, 64)).astype(dtype) for _ in range(2))
    gamma, beta = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    y, s = run_r1("SkipLayerNorm", [x, skip, gamma, beta], n_outputs=2)
    assert y.dtype == np.dtype(dtype) and s.dtype == np.dtype(dtype)
    tol = 1e-2 if dtype == np.float16 else 4e-2
    np.testing.assert_allclose(f64(y), layernorm_ref(f64(x) + f64(skip), gamma, beta, 1e-5), rtol=tol, atol=tol)
    np.testing.assert_allclose(f64(s), f64(x) + f64(skip), rtol=tol, atol=tol)


def test_skip_layernorm_schema_errors():
    x = np.zeros((2, 8), np.float32)
    with pytest.raises(r1.ModelError):
        run_r1("SkipLayerNorm", [x, np.zeros((3, 8), np.float32), np.ones(8, np.float32)])  # skip does not broadcast
    with pytest.raises(r1.ModelError):
        run_r1("SkipLayerNorm", [x, x, np.ones(7, np.float32)])  # gamma is not [hidden]
    with pytest.raises(r1.ModelError):
        run_r1("SkipLayerNorm", [x, x.astype(np.float16), np.ones(8, np.float32)])  # dtypes differ


# ---- GELU (r1::Gelu and ONNX Gelu run the same kernel)

SPECIALS = np.array(
    [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        1e-40,
        -1e-40,
        1e-30,
        3e38,
        -3e38,
        0.921875 * math.sqrt(2),
        -0.921875 * math.sqrt(2),
        14.2,
        -14.2,
        -15.0,
        -20.0,
    ],
    np.float32,
)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("onnx", [False, True])
def test_gelu_dense_grid(approximate, onnx):
    x = np.concatenate(
        [np.linspace(-16, 16, 40001), np.geomspace(1e-30, 16, 3001), -np.geomspace(1e-30, 16, 3001), SPECIALS]
    ).astype(np.float32)
    if onnx:
        (y,) = run_op("Gelu", [x], {"approximate": approximate}, opset=20, num_threads=2)
    else:
        (y,) = run_r1("Gelu", [x], {"approximate": approximate}, threads=2)
    want = gelu_ref(x, approximate)
    # erf form: relative accuracy everywhere (the tail is computed as 0.5 x erfc(-x / sqrt 2));
    # tanh form: u = x + 0.044715 x^3 is rounded in float, which exp(-2u) amplifies in the far tail.
    rtol, atol = (1e-6, 1e-38) if approximate == "none" else (1e-5, 1e-9)  # atol: float32 subnormals
    np.testing.assert_allclose(f64(y), want, rtol=rtol, atol=atol)
    assert np.signbit(y[x == -np.inf]).all() and y[x == np.inf][0] == np.inf


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(0, 300),
    approximate=st.sampled_from(["none", "tanh"]),
    dtype=st.sampled_from([np.float32, np.float16, BF16]),
    seed=st.integers(0, 2**16),
)
def test_gelu_tails_and_dtypes(n, approximate, dtype, seed):
    x = (np.random.default_rng(seed).standard_normal((n,)) * 3).astype(dtype)
    (y,) = run_r1("Gelu", [x], {"approximate": approximate})
    assert y.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(f64(y), gelu_ref(f64(x), approximate), **tol)


# ---- the ONNX kernels that now use the same rows


@settings(max_examples=30, deadline=None)
@given(
    rows=st.sampled_from([1, 3, 64]),
    n=st.integers(1, 300),
    scale=st.sampled_from([1.0, 30.0]),
    masked=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_softmax_rows(rows, n, scale, masked, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, n)) * scale).astype(np.float32)
    if masked:
        x[rng.random((rows, n)) < 0.3] = -np.inf
        x[:, 0] = 0.0
    for op in ("Softmax", "LogSoftmax"):
        (y,) = run_op(op, [x], {"axis": -1}, opset=13)
        xd = f64(x)
        with np.errstate(divide="ignore"):
            e = np.exp(xd - xd.max(-1, keepdims=True))
            want = e / e.sum(-1, keepdims=True)
            want = np.log(want) if op == "LogSoftmax" else want
        np.testing.assert_allclose(f64(y), want, rtol=1e-5, atol=1e-6)


def test_softmax_all_masked_row_is_nan_like_onnxruntime():
    x = np.array([[-np.inf] * 20, [np.finfo(np.float32).min] * 20], np.float32)
    (y,) = run_op("Softmax", [x], {"axis": -1}, opset=13)
    assert np.isnan(y[0]).all()
    np.testing.assert_allclose(y[1], np.full(20, 0.05, np.float32), rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    n=st.sampled_from([1, 5, 16, 31, 384, 769]),
    offset=st.sampled_from([0.0, 1000.0]),
    has_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_layernorm_rows(n, offset, has_bias, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((3, 4, n)) + offset).astype(np.float32)
    scale, bias = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    inputs = [x, scale, bias] if has_bias else [x, scale]
    (y,) = run_op("LayerNormalization", inputs, {"axis": -1, "epsilon": 1e-5}, opset=17)
    want = layernorm_ref(x, scale, bias if has_bias else None, 1e-5)
    np.testing.assert_allclose(f64(y), want, rtol=1e-5, atol=1e-5 if offset == 0 else 2e-3)
