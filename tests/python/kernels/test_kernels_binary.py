"""Property tests of the broadcasting binary ops (Add, Sub, Mul, Div, Pow, Mod, PRelu, BitShift) and the variadic
Max / Min / Sum / Mean against numpy references computed in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.elementwise_data import BF16, F16, F32, FLOATS, INTS, NUMERIC, bcast_shapes, check, f64, make_array, seeds
from helpers.op_harness import run_op

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
