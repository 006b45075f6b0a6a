"""Property tests of the elementwise ops (unary math, activations, binary ops, Max/Min/Sum/Mean, comparisons,
logic, Where, Cast/CastLike: cpu/kernels/{elementwise_unary,activation,elementwise_binary,logic,where,cast}.cc) against numpy references
computed in float64."""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.op_harness import run_op

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


# ---------------------------------------------------------------------------------------------
# Binary arithmetic with broadcasting


def _int_div(a, b):
    q = np.abs(a.astype(np.int64)) // np.abs(b.astype(np.int64))
    return (np.sign(a.astype(np.int64)) * np.sign(b.astype(np.int64)) * q).astype(a.dtype)


BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": None}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(seed=seeds, shp=bcast_shapes(), dt=st.sampled_from(NUMERIC))
def test_binary_arith(op, seed, shp, dt):
    a = make_array(seed, shp[0], dt)
    b = make_array(seed + 1, shp[1], dt, nonzero=(op == "Div"))
    (y,) = run_op(op, [a, b])
    if dt.kind in "iu":
        with np.errstate(all="ignore"):
            want = _int_div(*np.broadcast_arrays(a, b)) if op == "Div" else BINARY[op](a, b)
        check(y, want.astype(dt), dt)
    else:
        want = (f64(a) / f64(b)) if op == "Div" else BINARY[op](f64(a), f64(b))
        check(y, want.astype(dt), dt)


def test_binary_large_broadcast_paths():
    """Rows long enough for the parallel paths, all broadcast patterns of a 3-D shape."""
    rng = np.random.default_rng(0)
    out = (6, 70, 130)
    for ma in range(8):
        for mb in range(8):
            sa = tuple(1 if ma >> i & 1 else d for i, d in enumerate(out))
            sb = tuple(1 if mb >> i & 1 else d for i, d in enumerate(out))
            a = rng.standard_normal(sa).astype(np.float32)
            b = rng.standard_normal(sb).astype(np.float32)
            (y,) = run_op("Sub", [a, b], num_threads=2)
            np.testing.assert_allclose(y, a - b, rtol=1e-6)


def test_int_division_semantics():
    a = np.array([-3, 3, -3, 3, 7, -7, 5, 0], dtype=np.int32)
    b = np.array([2, 2, -2, -2, 1, -1, 0, 3], dtype=np.int32)
    (y,) = run_op("Div", [a, b])
    np.testing.assert_array_equal(y, [-1, 1, 1, -1, 7, 7, 0, 0])  # truncation; x/0 gives 0
    m = np.array([np.iinfo(np.int64).min], dtype=np.int64)
    (y,) = run_op("Div", [m, np.array([-1], dtype=np.int64)])  # wraps, no trap
    assert y[0] == np.iinfo(np.int64).min


@given(seed=seeds, shp=bcast_shapes(), data=st.data())
def test_pow(seed, shp, data):
    combos = [
        (F32, F32),
        (F16, F16),
        (BF16, BF16),
        (F32, np.dtype(np.int64)),
        (F32, np.dtype(np.int32)),
        (F16, F32),
        (np.dtype(np.int64), np.dtype(np.int64)),
        (np.dtype(np.int32), np.dtype(np.int32)),
        (np.dtype(np.int64), F32),
        (np.dtype(np.int32), F32),
    ]
    ta, tb = data.draw(st.sampled_from(combos))
    if ta.kind == "f" or ta == BF16:
        a = make_array(seed, shp[0], ta, 0.2, 3.0)
    else:
        a = make_array(seed, shp[0], ta, -4, 5)
    if tb.kind == "f" or tb == BF16:
        b = make_array(seed + 1, shp[1], tb, -2.0, 3.0)
        if ta.kind in "iu":
            b = np.round(f64(b)).astype(tb)  # integer base: integral exponents keep the reference exact
            a = np.abs(a) + 1
    else:
        b = make_array(seed + 1, shp[1], tb, 0, 4)
    (y,) = run_op("Pow", [a, b], opset=15)
    assert y.dtype == ta
    if ta.kind in "iu":
        want = (f64(a) ** f64(b)).astype(ta)
        check(y, want, ta)
    else:
        check(y, (f64(a) ** f64(b)).astype(ta), ta, rtol32=2e-5)


@pytest.mark.parametrize("e", [2.0, 3.0, 0.5, 1.0, -1.0, 1.7])
def test_pow_constant_exponents(e):
    x = np.abs(make_array(3, (4, 33), F32)) + 0.1
    (y,) = run_op("Pow", [x], constants=[np.array(e, dtype=np.float32)])
    np.testing.assert_allclose(y, f64(x) ** e, rtol=2e-6)


@given(seed=seeds, shp=bcast_shapes(), dt=st.sampled_from(NUMERIC), fmod=st.integers(0, 1))
def test_mod(seed, shp, dt, fmod):
    if fmod == 0 and (dt.kind == "f" or dt == BF16):
        fmod = 1 if seed % 2 else 0
    a = make_array(seed, shp[0], dt, -20 if dt.kind == "i" else None, 20 if dt.kind in "iu" else None)
    b = make_array(seed + 1, shp[1], dt, nonzero=True)
    (y,) = run_op("Mod", [a, b], attrs={"fmod": fmod}, opset=13)
    if fmod:
        want = np.fmod(f64(a), f64(b))
    else:
        want = np.mod(f64(a), f64(b))
    if dt.kind in "iu":
        check(y, want.astype(dt), dt)
    else:
        # the remainder of rounded operands can jump by |b|; compare on the operands as stored
        check(y, want.astype(dt), dt, rtol32=1e-5, atol32=1e-5)


def test_mod_edge_cases():
    a = np.array([0, -0.0, -3, 3, -1, 1, np.inf, 1], dtype=np.float32)
    b = np.array([-2, 2, np.inf, np.inf, -np.inf, -np.inf, 2, 0], dtype=np.float32)
    (y,) = run_op("Mod", [a, b], attrs={"fmod": 0}, opset=13)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(y, np.mod(a, b))
    ai = np.array([-4, 7, 5, 4, -7, 8, 3], dtype=np.int32)
    bi = np.array([2, -3, 8, -2, 3, 5, 0], dtype=np.int32)
    (y,) = run_op("Mod", [ai, bi], opset=13)
    np.testing.assert_array_equal(y, [0, -2, 5, 0, 2, 3, 0])
    (y,) = run_op("Mod", [ai, bi], attrs={"fmod": 1}, opset=13)
    np.testing.assert_array_equal(y, [0, 1, 5, 0, -1, 3, 0])


@given(
    seed=seeds,
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    data=st.data(),
    dt=st.sampled_from(FLOATS + [np.dtype(np.int32), np.dtype(np.int64)]),
)
def test_prelu(seed, shape, data, dt):
    r = data.draw(st.integers(1, len(shape)))
    sshape = tuple(1 if data.draw(st.booleans()) else d for d in shape[len(shape) - r :])
    x = make_array(seed, shape, dt)
    s = make_array(seed + 1, sshape, dt)
    (y,) = run_op("PRelu", [x, s], opset=16)
    want = np.where(f64(x) < 0, f64(x) * f64(s), f64(x))
    check(y, want.astype(dt), dt)


def _ref_shift(a, b, left):
    bits = a.dtype.itemsize * 8
    k = b.astype(np.int64)
    bad = (k < 0) | (k >= bits)
    ks = np.where(bad, 0, k)
    if left:
        with np.errstate(all="ignore"):
            r = (a.astype(np.int64) << ks).astype(a.dtype) if a.dtype != np.int64 else np.left_shift(a, ks)
        return np.where(bad, 0, r).astype(a.dtype)
    r = np.right_shift(a.astype(np.int64), ks).astype(a.dtype)
    return np.where(bad, np.where(a < 0, -1, 0), r).astype(a.dtype)


@given(seed=seeds, shp=bcast_shapes(), dt=st.sampled_from(INTS))
def test_bitshift(seed, shp, dt):
    info = np.iinfo(dt)
    a = make_array(seed, shp[0], dt, max(info.min, -1000), min(info.max, 1000))
    b = make_array(seed + 1, shp[1], dt, 0 if dt.kind == "u" else -2, info.bits + 2)
    opset = 11 if dt == np.uint8 else 28
    for d in ["LEFT", "RIGHT"]:
        (y,) = run_op("BitShift", [a, b], attrs={"direction": d}, opset=opset)
        a2, b2 = np.broadcast_arrays(a, b)
        np.testing.assert_array_equal(y, _ref_shift(a2, b2, d == "LEFT"))


# ---------------------------------------------------------------------------------------------
# Variadic


VARIADIC = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add, "Mean": np.add}


@pytest.mark.parametrize("op", sorted(VARIADIC))
@given(seed=seeds, n=st.integers(1, 4), data=st.data())
def test_variadic(op, seed, n, data):
    shp = data.draw(bcast_shapes(n))
    dt = data.draw(st.sampled_from(FLOATS if op == "Mean" else NUMERIC))
    xs = [make_array(seed + i, s, dt) for i, s in enumerate(shp)]
    (y,) = run_op(op, xs, opset=13)
    want = f64(xs[0])
    for x in xs[1:]:
        want = VARIADIC[op](want, f64(x))
    if op == "Mean":
        want = want / n
    want = np.broadcast_to(want, np.broadcast_shapes(*shp))
    if op in ("Sum", "Mean") and dt in (F16, BF16):
        # 16-bit sums round after every add (as onnxruntime's do): with cancellation the result can be
        # far from the exact sum relative to itself, but never beyond the classic bound for summing
        # n terms, (n + 1) * eps * sum |x_i| (elementwise), which this checks.
        eps = 2.0**-11 if dt == F16 else 2.0**-8
        mag = sum(np.abs(f64(x)) for x in xs)
        bound = (n + 1) * eps * np.broadcast_to(mag, want.shape) / (n if op == "Mean" else 1)
        err = np.abs(f64(y) - want)
        assert y.shape == want.shape and (err <= bound + 1e-30).all(), float((err - bound).max())
    else:
        check(y, want.astype(dt), dt, rtol32=1e-5, atol32=1e-6)


# ---------------------------------------------------------------------------------------------
# Comparisons, logic, Where


COMPARE = {
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
}


@pytest.mark.parametrize("op", sorted(COMPARE))
@given(seed=seeds, shp=bcast_shapes(), data=st.data())
def test_compare(op, seed, shp, data):
    dt = data.draw(st.sampled_from(ALL if op == "Equal" else NUMERIC))
    a = make_array(seed, shp[0], dt, -2 if dt.kind == "i" else None, 3 if dt.kind in "iu" else None)
    b = make_array(seed + 1, shp[1], dt, -2 if dt.kind == "i" else None, 3 if dt.kind in "iu" else None)
    if dt.kind == "f" or dt == BF16:
        b = b.copy()
        if a.size and b.size:  # some exact ties
            b.flat[0] = a.flat[0]
    (y,) = run_op(op, [a, b], opset=19 if op == "Equal" else 16)
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, COMPARE[op](f64(a), f64(b)) if dt != np.bool_ else COMPARE[op](a, b))


LOGIC = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


@pytest.mark.parametrize("op", sorted(LOGIC))
@given(seed=seeds, shp=bcast_shapes())
def test_logic(op, seed, shp):
    a = make_array(seed, shp[0], np.bool_)
    b = make_array(seed + 1, shp[1], np.bool_)
    (y,) = run_op(op, [a, b])
    np.testing.assert_array_equal(y, LOGIC[op](a, b))


@given(seed=seeds, shp=bcast_shapes(3), dt=st.sampled_from(ALL))
def test_where(seed, shp, dt):
    c = make_array(seed, shp[0], np.bool_)
    x = make_array(seed + 1, shp[1], dt)
    z = make_array(seed + 2, shp[2], dt)
    (y,) = run_op("Where", [c, x, z], opset=16)
    assert y.dtype == dt
    np.testing.assert_array_equal(f64(y), f64(np.where(c, x, z)))


# ---------------------------------------------------------------------------------------------
# Cast / CastLike

ONNX_CODE = {
    F32: 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    F16: 10,
    BF16: 16,
}


def _cast_source(seed, shape, src, dst):
    """Values of src that are in range for dst (numpy leaves out-of-range float->int undefined)."""
    if src.kind == "f" or src == BF16:
        lo, hi = (-100.0, 100.0)
        if dst.kind == "u":
            lo, hi = 0.0, 250.0
        return make_array(seed, shape, src, lo, hi)
    return make_array(seed, shape, src, None if src.kind != "i" else -100, None if src.kind == "b" else 100)


@given(seed=seeds, shape=shapes, src=st.sampled_from(ALL), dst=st.sampled_from(ALL))
def test_cast(seed, shape, src, dst):
    x = _cast_source(seed, shape, src, dst)
    (y,) = run_op("Cast", [x], attrs={"to": ONNX_CODE[dst]}, opset=19)
    assert y.dtype == dst and y.shape == x.shape
    with np.errstate(all="ignore"):
        want = x.astype(dst)
    np.testing.assert_array_equal(f64(y), f64(want))


def test_cast_saturates_and_nan():
    x = np.array([np.nan, 1e10, -1e10, 300.0, -300.0, 2.9, -2.9], dtype=np.float32)
    (y,) = run_op("Cast", [x], attrs={"to": 6})
    np.testing.assert_array_equal(y, [0, 2**31 - 1, -(2**31), 300, -300, 2, -2])
    (y,) = run_op("Cast", [x], attrs={"to": 3})
    np.testing.assert_array_equal(y, [0, 127, -128, 127, -128, 2, -2])
    (y,) = run_op("Cast", [x], attrs={"to": 9})
    np.testing.assert_array_equal(y, x.astype(bool))


@given(seed=seeds, shape=shapes, src=st.sampled_from(ALL), dst=st.sampled_from(ALL))
def test_castlike(seed, shape, src, dst):
    x = _cast_source(seed, shape, src, dst)
    like = np.zeros((2,), dtype=dst)
    (y,) = run_op("CastLike", [x, like], opset=19)
    assert y.dtype == dst
    np.testing.assert_array_equal(f64(y), f64(x.astype(dst)))


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors():
    import deepseek_r1 as r1

    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Exp", [np.ones(3, dtype=np.int32)])
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Cast", [np.ones(3, dtype=np.float32)], attrs={"to": 11})  # double
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Gelu", [np.ones(3, dtype=np.float32)], attrs={"approximate": "fast"}, opset=20)
    with pytest.raises(r1.ModelError):
        run_op("Add", [np.ones(3, dtype=np.float32), np.ones(3, dtype=np.int32)])
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Add", [np.ones(3, dtype=np.float32), np.ones(4, dtype=np.float32)])
