"""GPU kernels of cuda/kernels/{logic,hardmax,cumsum,topk,one_hot,eye_like,constant_of_shape,range,space_depth}.cu.

And / Or / Xor / Not / BitShift; Hardmax, CumSum, TopK, OneHot, EyeLike, ConstantOfShape, Range,
DepthToSpace and SpaceToDepth. Each kernel runs through _core.run_kernel on the first GPU device
(the session `dev` fixture of conftest.py; host_inputs are honoured) and the module skips where
there is none. Byte-moving and integer results are compared exactly; float results against float64
references computed from the inputs already rounded to their dtype: float32 1e-5 relative,
float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
FLOATS = [F32, F16, BF16]
INTS = [np.dtype(t) for t in (np.int8, np.uint8, np.int32, np.int64)]
ALL = FLOATS + INTS + [np.dtype(np.bool_)]
CODES = {
    F32: 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    F16: 10,
    BF16: 16,
}
TOL = {F32: (1e-5, 1e-6), F16: (1e-2, 1e-2), BF16: (1e-2, 1e-2)}
seeds = st.integers(0, 2**31 - 1)
shapes = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=7)


def run(dev, op, inputs, attrs=None, opset=17, num_outputs=1):
    return _core.run_kernel(dev, op, list(inputs), attrs or {}, opset, num_outputs)


def rand(rng, shape, dtype, lo=-3.0, hi=3.0):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.tobytes() == want.tobytes(), (got, want)


def assert_close(got, want, dtype, atol=None):
    rtol, a = TOL[np.dtype(dtype)]
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(
        got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=a if atol is None else max(a, atol)
    )


def test_registered(dev):
    from deepseek_r1 import gpu

    ops = set(gpu.module(dev.split(":")[0]).kernel_ops())
    assert {
        "And",
        "Or",
        "Xor",
        "Not",
        "BitShift",
        "Hardmax",
        "CumSum",
        "TopK",
        "OneHot",
        "EyeLike",
        "ConstantOfShape",
        "Range",
        "DepthToSpace",
        "SpaceToDepth",
    } <= ops


# ---------------------------------------------------------------------------------------------
# logic.cu


@pytest.mark.parametrize("op,ref", [("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)])
@settings(max_examples=20)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=6), seed=seeds)
def test_logic_broadcast(dev, op, ref, shapes, seed):
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.random(shapes.input_shapes[0]) < 0.5)
    b = np.asarray(rng.random(shapes.input_shapes[1]) < 0.5)
    (y,) = run(dev, op, [a, b])
    assert_same(y, ref(a, b))


@settings(max_examples=15)
@given(shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9), seed=seeds)
def test_not(dev, shape, seed):
    x = np.asarray(np.random.default_rng(seed).random(shape) < 0.5)
    (y,) = run(dev, "Not", [x])
    assert_same(y, np.logical_not(x))


def test_logic_large_and_errors(dev):
    rng = np.random.default_rng(0)
    a = rng.random((3, 1, 70001)) < 0.5
    b = rng.random((5, 1)) < 0.5
    (y,) = run(dev, "And", [a, b])
    assert_same(y, a & b)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "And", [np.ones(3, np.float32), np.ones(3, np.float32)])
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "Or", [np.ones(3, bool), np.ones(4, bool)])


def bitshift_ref(a, b, left):
    bits = a.dtype.itemsize * 8
    signed = a.dtype.kind == "i"
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), a.dtype)
    aa, bb = np.broadcast_to(a, out.shape), np.broadcast_to(b, out.shape)
    for idx in np.ndindex(out.shape):
        u, k = int(aa[idx]), int(bb[idx])
        if left:
            v = 0 if (k < 0 or k >= bits) else (u << k) & ((1 << bits) - 1)
            if signed and v >= 1 << (bits - 1):
                v -= 1 << bits
        elif k < 0 or k >= bits:
            v = -1 if u < 0 else 0
        else:
            v = u >> k
        out[idx] = v
    return out


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@settings(max_examples=10)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=5), seed=seeds)
def test_bitshift(dev, dtype, direction, shapes, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    bits = dtype.itemsize * 8
    a = np.asarray(rng.integers(info.min, info.max, size=shapes.input_shapes[0], endpoint=True, dtype=dtype))
    b = np.asarray(rng.integers(max(info.min, -2), bits + 2, size=shapes.input_shapes[1], endpoint=True), dtype)
    (y,) = run(dev, "BitShift", [a, b], {"direction": ("string", direction)}, opset=11)
    assert_same(y, bitshift_ref(a, b, direction == "LEFT"))


def test_bitshift_errors(dev):
    with pytest.raises(r1.ModelError, match="direction"):
        run(dev, "BitShift", [np.ones(3, np.uint8), np.ones(3, np.uint8)], {"direction": ("string", "UP")}, opset=11)
    with pytest.raises((r1.ModelError, r1.InputError)):
        run(
            dev,
            "BitShift",
            [np.ones(3, np.float32), np.ones(3, np.float32)],
            {"direction": ("string", "LEFT")},
            opset=11,
        )


# ---------------------------------------------------------------------------------------------
# Hardmax


def hardmax_ref(x, axis, opset):
    x = x.astype(np.float64)
    r = x.ndim
    if opset < 13:
        a = axis % r
        outer = int(np.prod(x.shape[:a], dtype=np.int64))
        x2 = x.reshape(outer, -1)
        y = np.zeros_like(x2)
        y[np.arange(outer), np.argmax(x2, axis=1)] = 1
        return y.reshape(x.shape)
    y = np.zeros_like(x)
    np.put_along_axis(y, np.expand_dims(np.argmax(x, axis=axis), axis), 1, axis=axis)
    return y


@pytest.mark.parametrize("opset", [11, 13])
@settings(max_examples=20)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=12),
    data=st.data(),
    dtype=st.sampled_from(FLOATS),
    seed=seeds,
    ties=st.booleans(),
)
def test_hardmax(dev, opset, shape, data, dtype, seed, ties):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    # ties: few distinct values, so the first maximum (lowest index) must win
    x = (rng.integers(-2, 3, size=shape) if ties else rng.uniform(-5, 5, size=shape)).astype(dtype)
    (y,) = run(dev, "Hardmax", [x], {"axis": ("int", axis)}, opset=opset)
    assert_same(y, hardmax_ref(x, axis, opset).astype(dtype))


@pytest.mark.parametrize("n", [1, 31, 64, 65, 257, 1000, 4099])
def test_hardmax_long_rows_and_inf(dev, n):
    rng = np.random.default_rng(n)
    x = rng.integers(-50, 50, size=(3, n)).astype(np.float32)
    x[2] = -np.inf  # no value above -inf: index 0, like the CPU kernel
    (y,) = run(dev, "Hardmax", [x], {"axis": ("int", -1)}, opset=13)
    want = hardmax_ref(x[:2], -1, 13)
    want = np.concatenate([want, np.eye(1, n)], axis=0).astype(np.float32)
    assert_same(y, want)


def test_hardmax_nan_never_wins(dev):
    x = np.array([[np.nan, 1, 3, np.nan, 3], [np.nan] * 5], np.float32)
    (y,) = run(dev, "Hardmax", [x], {"axis": ("int", 1)}, opset=13)
    assert_same(y, np.array([[0, 0, 1, 0, 0], [1, 0, 0, 0, 0]], np.float32))


def test_hardmax_errors(dev):
    with pytest.raises(r1.InputError):
        run(dev, "Hardmax", [np.ones((2, 3), np.float32)], {"axis": ("int", 2)}, opset=13)


# ---------------------------------------------------------------------------------------------
# CumSum


@settings(max_examples=25)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=12),
    data=st.data(),
    dtype=st.sampled_from(FLOATS + [np.dtype(np.int32), np.dtype(np.int64)]),
    seed=seeds,
    exclusive=st.booleans(),
    reverse=st.booleans(),
    axis_dtype=st.sampled_from([np.int32, np.int64]),
)
def test_cumsum(dev, shape, data, dtype, seed, exclusive, reverse, axis_dtype):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    # positive float terms: no cancellation, so the float accumulation stays within 1e-5 relative
    x = rand(rng, shape, dtype, 0.5, 2.0)
    (y,) = run(
        dev,
        "CumSum",
        [x, np.array(axis, axis_dtype)],
        {"exclusive": ("int", int(exclusive)), "reverse": ("int", int(reverse))},
        opset=14,
    )
    acc = np.int64 if dtype.kind == "i" else np.float64
    xd = x.astype(acc)
    if reverse:
        xd = np.flip(xd, axis)
    c = np.cumsum(xd, axis=axis)
    if exclusive:
        c = c - xd
    if reverse:
        c = np.flip(c, axis)
    if dtype.kind == "i":
        assert_same(y, c.astype(dtype))
    else:
        assert_close(y, c, dtype)


def test_cumsum_long_axis(dev):
    x = np.random.default_rng(3).integers(-5, 6, size=(2, 5000, 3)).astype(np.float32)
    (y,) = run(dev, "CumSum", [x, np.array(1, np.int64)], {}, opset=14)
    assert_same(y, np.cumsum(x.astype(np.float64), axis=1).astype(np.float32))  # small integers: exact


def test_cumsum_errors(dev):
    x = np.ones((2, 3), np.float32)
    with pytest.raises(r1.InputError, match="CumSum axis"):
        run(dev, "CumSum", [x, np.array(2, np.int64)], opset=14)
    with pytest.raises(r1.InputError, match="scalar"):
        run(dev, "CumSum", [x, np.array([0, 1], np.int64)], opset=14)


# ---------------------------------------------------------------------------------------------
# TopK


def topk_ref(x, k, axis, largest):
    xd = x.astype(np.float64)
    order = np.argsort(-xd if largest else xd, axis=axis, kind="stable")  # equal values: lower index first
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


@settings(max_examples=30)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=12),
    data=st.data(),
    dtype=st.sampled_from(FLOATS),
    seed=seeds,
    largest=st.booleans(),
    ties=st.booleans(),
)
def test_topk(dev, shape, data, dtype, seed, largest, ties):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    rng = np.random.default_rng(seed)
    x = (rng.integers(-3, 4, size=shape) if ties else rng.uniform(-10, 10, size=shape)).astype(dtype)
    v, i = run(
        dev,
        "TopK",
        [x, np.array([k], np.int64)],
        {"axis": ("int", axis), "largest": ("int", int(largest)), "sorted": ("int", 1)},
        opset=11,
        num_outputs=2,
    )
    wv, wi = topk_ref(x, k, axis, largest)
    assert_same(i, wi)
    assert_same(v, wv)


@pytest.mark.parametrize("n,k", [(1000, 7), (4096, 4096), (4097, 5), (10000, 10000), (20000, 3)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_long_rows(dev, n, k, largest):
    rng = np.random.default_rng(n + k)
    x = rng.integers(-500, 500, size=(3, n)).astype(np.float32)  # many ties
    v, i = run(dev, "TopK", [x, np.array([k], np.int64)], {"largest": ("int", int(largest))}, opset=11, num_outputs=2)
    wv, wi = topk_ref(x, k, 1, largest)
    assert_same(i, wi)
    assert_same(v, wv)
    # a strided axis through the global-memory path
    xt = np.ascontiguousarray(x.T)
    v, i = run(
        dev,
        "TopK",
        [xt, np.array([k], np.int64)],
        {"axis": ("int", 0), "largest": ("int", int(largest))},
        opset=11,
        num_outputs=2,
    )
    wv, wi = topk_ref(xt, k, 0, largest)
    assert_same(i, wi)
    assert_same(v, wv)


def test_topk_k_attribute_and_errors(dev):
    x = np.random.default_rng(1).uniform(-1, 1, size=(4, 9)).astype(np.float32)
    v, i = run(dev, "TopK", [x], {"k": ("int", 3)}, opset=1, num_outputs=2)
    wv, wi = topk_ref(x, 3, 1, True)
    assert_same(i, wi)
    assert_same(v, wv)
    with pytest.raises(r1.InputError, match="TopK"):
        run(dev, "TopK", [x, np.array([10], np.int64)], opset=11, num_outputs=2)
    with pytest.raises(r1.InputError, match="TopK"):
        run(dev, "TopK", [x, np.array([-1], np.int64)], opset=11, num_outputs=2)


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


# ---------------------------------------------------------------------------------------------
# DepthToSpace / SpaceToDepth


def d2s_ref(x, b, mode):
    n, c, h, w = x.shape
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // (b * b), h * b, w * b)


def s2d_ref(x, b, mode):
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b)
    t = t.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else t.transpose(0, 1, 3, 5, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@settings(max_examples=25)
@given(
    b=st.integers(1, 3),
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    dtype=st.sampled_from(ALL),
    seed=seeds,
)
def test_depth_space(dev, mode, b, n, c, h, w, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, (n, c * b * b, h, w), dtype)
    (y,) = run(dev, "DepthToSpace", [x], {"blocksize": ("int", b), "mode": ("string", mode)}, opset=13)
    assert_same(y, d2s_ref(x, b, mode))
    z = rand(rng, (n, c, h * b, w * b), dtype)
    (y,) = run(dev, "SpaceToDepth", [z], {"blocksize": ("int", b), "mode": ("string", mode)}, opset=13)
    assert_same(y, s2d_ref(z, b, mode))


def test_depth_space_errors(dev):
    x = np.ones((1, 8, 2, 2), np.float32)
    with pytest.raises(r1.InputError, match="divisible"):
        run(dev, "DepthToSpace", [x], {"blocksize": ("int", 3)}, opset=13)
    with pytest.raises(r1.InputError, match="divisible"):
        run(dev, "SpaceToDepth", [np.ones((1, 2, 3, 4), np.float32)], {"blocksize": ("int", 2)}, opset=13)
    with pytest.raises(r1.ModelError, match="mode"):
        run(dev, "DepthToSpace", [x], {"blocksize": ("int", 2), "mode": ("string", "XYZ")}, opset=13)
    with pytest.raises(r1.InputError, match="4-D"):
        run(dev, "DepthToSpace", [np.ones((8, 2, 2), np.float32)], {"blocksize": ("int", 2)}, opset=13)
