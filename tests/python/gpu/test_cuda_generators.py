"""GPU generator kernels (cuda/kernels/{one_hot,eye_like,constant_of_shape,range}.cu) against numpy.

OneHot, EyeLike, ConstantOfShape and Range. Each kernel runs through _core.run_kernel on the first GPU device (the
session `dev` fixture of conftest.py; host_inputs are honoured) and the module skips where there is none. Byte-moving
and integer results are compared exactly; float results against float64 references computed from the inputs already
rounded to their dtype: float32 1e-5 relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import deepseek_r1 as r1
from helpers.cuda_misc_harness import ALL, CODES, FLOATS, INTS, TOL, assert_close, assert_same, seeds
from helpers.gpu_kernels import rand, run

pytestmark = pytest.mark.gpu

# ---------------------------------------------------------------------------------------------
# OneHot


def one_hot_ref(ind, depth, values, axis):
    idx = np.trunc(ind.astype(np.float64)).astype(np.int64) if ind.dtype.kind == "f" else ind.astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    r = ind.ndim + 1
    a = axis % r
    hot = np.expand_dims(idx, a) == np.arange(depth).reshape([depth if d == a else 1 for d in range(r)])
    return np.where(hot, values[1], values[0]).astype(values.dtype)


@settings(max_examples=30)
@given(
    shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=6),
    data=st.data(),
    seed=seeds,
    idt=st.sampled_from([np.int32, np.int64, np.int8, np.float32, np.float16]),
    vdt=st.sampled_from(ALL),
    depth=st.integers(1, 9),
    ddt=st.sampled_from([np.int64, np.float32, np.int32]),
)
def test_one_hot(dev, shape, data, seed, idt, vdt, depth, ddt):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    rng = np.random.default_rng(seed)
    ind = np.asarray(rng.integers(-depth - 1, depth + 2, size=shape))  # some out of range: all "off"
    if np.dtype(idt).kind == "f":
        ind = np.asarray(ind + rng.uniform(-0.9, 0.9, size=shape)).astype(idt)
    else:
        ind = ind.astype(idt)
    values = rand(rng, (2,), vdt)
    (y,) = run(dev, "OneHot", [ind, np.array(depth, ddt), values], {"axis": ("int", axis)}, opset=11)
    assert_same(y, one_hot_ref(ind, depth, values, axis))


def test_one_hot_errors(dev):
    ind = np.array([0, 1], np.int64)
    with pytest.raises(r1.InputError, match="values"):
        run(dev, "OneHot", [ind, np.array(3, np.int64), np.array([0, 1, 2], np.float32)], opset=11)
    with pytest.raises(r1.InputError, match="depth"):
        run(dev, "OneHot", [ind, np.array(0, np.int64), np.array([0, 1], np.float32)], opset=11)
    with pytest.raises(r1.InputError, match="axis"):
        run(dev, "OneHot", [ind, np.array(3, np.int64), np.array([0, 1], np.float32)], {"axis": ("int", 2)}, opset=11)


# ---------------------------------------------------------------------------------------------
# Generators


@settings(max_examples=30)
@given(
    n=st.integers(0, 9),
    m=st.integers(0, 9),
    data=st.data(),
    in_dt=st.sampled_from(ALL),
    out_dt=st.sampled_from(ALL + [None]),
)
def test_eye_like(dev, n, m, data, in_dt, out_dt):
    k = data.draw(st.integers(-m - 2, m + 2))
    x = np.zeros((n, m), in_dt)
    attrs = {"k": ("int", k)}
    if out_dt is not None:
        attrs["dtype"] = ("int", CODES[out_dt])
    (y,) = run(dev, "EyeLike", [x], attrs, opset=9)
    assert_same(y, np.eye(n, m, k).astype(out_dt or in_dt))


def test_eye_like_errors(dev):
    with pytest.raises(r1.InputError, match="2-D"):
        run(dev, "EyeLike", [np.zeros((2, 2, 2), np.float32)], opset=9)


@settings(max_examples=30)
@given(
    shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9), dtype=st.sampled_from(ALL + [None]), seed=seeds
)
def test_constant_of_shape(dev, shape, dtype, seed):
    spec = np.array(shape, np.int64)
    if dtype is None:
        (y,) = run(dev, "ConstantOfShape", [spec], opset=9)
        assert_same(y, np.zeros(shape, np.float32))
        return
    v = rand(np.random.default_rng(seed), (1,), dtype)
    (y,) = run(dev, "ConstantOfShape", [spec], {"value": ("tensor", v)}, opset=9)
    assert_same(y, np.full(shape, v[0], dtype))


def test_constant_of_shape_large_and_errors(dev):
    (y,) = run(
        dev,
        "ConstantOfShape",
        [np.array([1000, 333], np.int64)],
        {"value": ("tensor", np.array([-7], np.int64))},
        opset=9,
    )
    assert_same(y, np.full((1000, 333), -7, np.int64))
    with pytest.raises(r1.ModelError, match="one element"):
        run(
            dev,
            "ConstantOfShape",
            [np.array([2], np.int64)],
            {"value": ("tensor", np.array([1, 2], np.float32))},
            opset=9,
        )
    with pytest.raises(r1.InputError, match="negative"):
        run(dev, "ConstantOfShape", [np.array([2, -1], np.int64)], opset=9)


@settings(max_examples=40)
@given(dtype=st.sampled_from(INTS + FLOATS), data=st.data())
def test_range(dev, dtype, data):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -100), min(info.max, 100)
        s, lim = data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))
        d = data.draw(st.integers(-7, 7).filter(lambda v: v != 0) if dtype.kind == "i" else st.integers(1, 7))
        (y,) = run(dev, "Range", [np.array(s, dtype), np.array(lim, dtype), np.array(d, dtype)], opset=11)
        assert_same(y, np.arange(s, lim, d).astype(dtype))
        return
    fl = st.floats(-50, 50, allow_nan=False, width=32)
    s, lim = np.array(data.draw(fl), dtype), np.array(data.draw(fl), dtype)
    d = np.array(data.draw(st.floats(0.0625, 5, width=32) | st.floats(-5, -0.0625, width=32)), dtype)
    sd, ld, dd = float(s), float(lim), float(d)
    if dd == 0:
        return
    n = max(math.ceil((ld - sd) / dd), 0)
    (y,) = run(dev, "Range", [s, lim, d], opset=11)
    want = sd + np.arange(n, dtype=np.float64) * dd
    # start + i * delta in float: the absolute error scales with the operands, not the result
    assert_close(y, want, dtype, atol=TOL[dtype][0] * (abs(sd) + n * abs(dd)))


def test_range_errors(dev):
    with pytest.raises(r1.InputError, match="delta"):
        run(dev, "Range", [np.array(0, np.int64), np.array(5, np.int64), np.array(0, np.int64)], opset=11)
    with pytest.raises(r1.ModelError, match="dtype"):
        run(dev, "Range", [np.array(0, np.int64), np.array(5, np.int32), np.array(1, np.int64)], opset=11)
