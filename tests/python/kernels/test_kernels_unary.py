"""Property tests of the unary elementwise ops (float math, activations, Gelu, numeric unary ops, Clip, IsNaN / IsInf,
Not) against numpy references computed in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.elementwise_data import BF16, FLOATS, NUMERIC, SIGNED_INTS, check, f64, make_array, seeds, shapes
from helpers.op_harness import run_op

# ---------------------------------------------------------------------------------------------
# Unary float math and activations


def _softplus(x):
    return np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))), np.log1p(np.exp(np.minimum(x, 0))))


def _erf(x):
    return np.vectorize(math.erf)(x) if x.size else x


SELU_A, SELU_G = 1.67326319217681884765625, 1.05070102214813232421875

# op -> (reference on float64, attrs, input range (low, high) or None for standard normal)
UNARY_FLOAT = {
    "Exp": (np.exp, {}, None),
    "Log": (np.log, {}, (0.05, 5.0)),
    "Sqrt": (np.sqrt, {}, (0.0, 5.0)),
    "Reciprocal": (lambda x: 1.0 / x, {}, (0.2, 5.0)),
    "Floor": (np.floor, {}, (-8.0, 8.0)),
    "Ceil": (np.ceil, {}, (-8.0, 8.0)),
    "Round": (np.round, {}, (-8.0, 8.0)),
    "Sin": (np.sin, {}, None),
    "Cos": (np.cos, {}, None),
    "Tan": (np.tan, {}, (-1.2, 1.2)),
    "Asin": (np.arcsin, {}, (-0.95, 0.95)),
    "Acos": (np.arccos, {}, (-0.95, 0.95)),
    "Atan": (np.arctan, {}, None),
    "Sinh": (np.sinh, {}, None),
    "Cosh": (np.cosh, {}, None),
    "Asinh": (np.arcsinh, {}, None),
    "Acosh": (np.arccosh, {}, (1.1, 6.0)),
    "Atanh": (np.arctanh, {}, (-0.9, 0.9)),
    "Tanh": (np.tanh, {}, None),
    "Sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), {}, None),
    "Erf": (_erf, {}, None),
    "Softsign": (lambda x: x / (1.0 + np.abs(x)), {}, None),
    "Softplus": (_softplus, {}, None),
    "Mish": (lambda x: x * np.tanh(_softplus(x)), {}, None),
    "LeakyRelu": (lambda x: np.where(x >= 0, x, 0.1 * x), {"alpha": 0.1}, None),
    "Elu": (lambda x: np.where(x >= 0, x, 0.7 * np.expm1(x)), {"alpha": 0.7}, None),
    "Selu": (lambda x: SELU_G * np.where(x > 0, x, SELU_A * np.expm1(x)), {}, None),
    "Celu": (lambda x: np.maximum(0, x) + np.minimum(0, 1.5 * np.expm1(x / 1.5)), {"alpha": 1.5}, None),
    "HardSigmoid": (lambda x: np.clip(0.3 * x + 0.4, 0, 1), {"alpha": 0.3, "beta": 0.4}, (-5.0, 5.0)),
    "HardSwish": (lambda x: x * np.clip(x / 6 + 0.5, 0, 1), {}, (-5.0, 5.0)),
    "ThresholdedRelu": (lambda x: np.where(x > 0.5, x, 0), {"alpha": 0.5}, None),
}


@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
@given(seed=seeds, shape=shapes, dt=st.sampled_from(FLOATS))
def test_unary_float(op, seed, shape, dt):
    ref, attrs, rng = UNARY_FLOAT[op]
    x = make_array(seed, shape, dt, *(rng or (None, None)))
    (y,) = run_op(op, [x], attrs=attrs)
    with np.errstate(all="ignore"):
        want = ref(f64(x))
    # fp32 math (expf, tanhf, ...) is a few ulp from the float64 reference
    check(y, want.astype(dt), dt, rtol32=2e-5, atol32=2e-6)


def test_round_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.2, 1000.5], dtype=np.float32)
    for dt in FLOATS:
        (y,) = run_op("Round", [x.astype(dt)])
        np.testing.assert_array_equal(f64(y), np.round(f64(x.astype(dt))))


def test_unary_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 80.0, -80.0], dtype=np.float32)
    with np.errstate(all="ignore"):
        for op in ["Exp", "Tanh", "Sigmoid", "Softplus", "Erf", "Relu", "Abs", "Sign", "Floor"]:
            (y,) = run_op(op, [x])
            ref = {
                "Exp": np.exp,
                "Tanh": np.tanh,
                "Sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                "Softplus": _softplus,
                "Erf": _erf,
                "Relu": lambda v: np.where(v > 0, v, 0),
                "Abs": np.abs,
                "Sign": np.sign,
                "Floor": np.floor,
            }[op](f64(x))
            if op == "Relu":
                ref = np.where(np.isnan(f64(x)), np.nan, ref)
            np.testing.assert_allclose(f64(y), ref, rtol=1e-5, equal_nan=True, err_msg=op)


@pytest.mark.parametrize("approx", ["none", "tanh"])
@given(seed=seeds, shape=shapes, dt=st.sampled_from(FLOATS))
def test_gelu(approx, seed, shape, dt):
    x = make_array(seed, shape, dt) * np.asarray(2, dtype=dt)
    (y,) = run_op("Gelu", [x], attrs={"approximate": approx}, opset=20)
    v = f64(x)
    if approx == "none":
        want = 0.5 * v * (1 + _erf(v / np.sqrt(2)))
    else:
        want = 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v**3)))
    check(y, want.astype(dt), dt, rtol32=2e-5, atol32=2e-6)


# ---------------------------------------------------------------------------------------------
# Unary numeric ops


UNARY_NUMERIC = {
    "Abs": (np.abs, NUMERIC),
    "Neg": (np.negative, FLOATS + SIGNED_INTS),
    "Sign": (np.sign, NUMERIC),
    "Relu": (lambda x: np.maximum(x, 0).astype(x.dtype), FLOATS + SIGNED_INTS),
}


@pytest.mark.parametrize("op", sorted(UNARY_NUMERIC))
@given(seed=seeds, shape=shapes, data=st.data())
def test_unary_numeric(op, seed, shape, data):
    ref, dts = UNARY_NUMERIC[op]
    dt = data.draw(st.sampled_from(dts))
    x = make_array(seed, shape, dt)
    (y,) = run_op(op, [x])
    assert y.dtype == dt
    want = ref(f64(x)).astype(dt) if dt.kind == "f" or dt == BF16 else ref(x)
    check(y, want, dt)


@given(
    seed=seeds,
    shape=shapes,
    dt=st.sampled_from(NUMERIC),
    opset=st.sampled_from([7, 11, 13]),
    has_min=st.booleans(),
    has_max=st.booleans(),
)
def test_clip(seed, shape, dt, opset, has_min, has_max):
    x = make_array(seed, shape, dt)
    lo, hi = (-1, 2) if dt.kind != "u" else (1, 3)
    if opset < 11:
        if dt not in FLOATS:
            return
        attrs = {}
        if has_min:
            attrs["min"] = float(lo)
        if has_max:
            attrs["max"] = float(hi)
        (y,) = run_op("Clip", [x], attrs=attrs, opset=opset)
    else:
        consts = [np.array(lo, dtype=dt) if has_min else None, np.array(hi, dtype=dt) if has_max else None]
        while consts and consts[-1] is None:
            consts.pop()
        (y,) = run_op("Clip", [x], constants=consts, opset=opset)
    want = f64(x)
    if has_min:
        want = np.maximum(want, lo)
    if has_max:
        want = np.minimum(want, hi)
    check(y, want.astype(dt), dt)


def test_clip_min_greater_than_max():
    x = np.array([-3, 0, 5], dtype=np.float32)
    (y,) = run_op("Clip", [x], constants=[np.float32(2), np.float32(1)], opset=13)
    np.testing.assert_array_equal(y, [1, 1, 1])


@given(seed=seeds, shape=shapes, dt=st.sampled_from(FLOATS), pos=st.integers(0, 1), neg=st.integers(0, 1))
def test_isnan_isinf(seed, shape, dt, pos, neg):
    x = make_array(seed, shape, np.float32)
    rng = np.random.default_rng(seed)
    if x.size:
        x.flat[rng.integers(0, x.size, size=3)] = [np.inf, -np.inf, np.nan]
    x = x.astype(dt)
    (y,) = run_op("IsNaN", [x], opset=20)
    np.testing.assert_array_equal(y, np.isnan(f64(x)))
    (y,) = run_op("IsInf", [x], attrs={"detect_positive": pos, "detect_negative": neg}, opset=20)
    v = f64(x)
    np.testing.assert_array_equal(y, (np.isposinf(v) & bool(pos)) | (np.isneginf(v) & bool(neg)))


@given(seed=seeds, shape=shapes)
def test_not(seed, shape):
    x = make_array(seed, shape, np.bool_)
    (y,) = run_op("Not", [x])
    np.testing.assert_array_equal(y, ~x)
