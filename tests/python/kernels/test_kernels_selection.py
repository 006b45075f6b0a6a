"""Property tests of Compress, Unique, ReverseSequence, TensorScatter, CumProd, BitCast, the Bitwise ops, Shrink,
Swish and Det against numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto

import deepseek_r1 as r1
from helpers.dtype_arrays import BF16, num_dtypes, rand, same, seeds, shapes
from helpers.op_harness import run_op

INTS = st.sampled_from([np.int8, np.uint8, np.int32, np.int64])


@given(shapes(1, 3, 1, 5), num_dtypes, seeds(), st.data())
def test_compress(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = x.size if axis is None else shape[axis]
    cond = rng.integers(0, 2, size=data.draw(st.integers(0, n))).astype(np.bool_)
    attrs = {} if axis is None else {"axis": axis}
    (y,) = run_op("Compress", [x, cond], attrs=attrs, opset=11)
    same(y, np.compress(cond, x, axis=axis))


def test_compress_condition_too_long():
    with pytest.raises(r1.InputError, match="condition holds 4 values for an axis of length 3"):
        run_op("Compress", [np.ones(3, np.float32), np.ones(4, np.bool_)], attrs={"axis": 0}, opset=11)


def _unique_ref(x, axis, sorted_):
    y, idx, inv, cnt = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    inv = inv.reshape(-1)
    if not sorted_:
        order = np.argsort(idx, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        y = np.take(y, order, axis=0 if axis is None else axis)
        idx, cnt, inv = idx[order], cnt[order], rank[inv]
    return y, idx.astype(np.int64), inv.astype(np.int64), cnt.astype(np.int64)


@given(shapes(1, 3, 1, 5), st.sampled_from([np.float32, np.int32, np.int64, np.int8]), seeds(), st.data())
def test_unique(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, size=shape).astype(dt)  # few distinct values: many repeats
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    sorted_ = data.draw(st.booleans())
    attrs = {"sorted": int(sorted_)} | ({} if axis is None else {"axis": axis})
    got = run_op("Unique", [x], attrs=attrs, n_outputs=4, opset=11)
    for g, w in zip(got, _unique_ref(x, axis, sorted_)):
        same(g, w)


@given(st.integers(1, 5), st.integers(1, 4), shapes(0, 2, 1, 3), num_dtypes, st.booleans(), seeds())
def test_reverse_sequence(t, b, rest, dt, batch_first, seed):
    rng = np.random.default_rng(seed)
    shape = ((b, t) if batch_first else (t, b)) + rest
    x = rand(rng, shape, dt)
    lens = rng.integers(0, t + 1, size=b).astype(np.int64)
    want = x.copy()
    for i, n in enumerate(lens):
        if batch_first:
            want[i, :n] = x[i, :n][::-1]
        else:
            want[:n, i] = x[:n, i][::-1]
    attrs = {"batch_axis": 0, "time_axis": 1} if batch_first else {"batch_axis": 1, "time_axis": 0}
    (y,) = run_op("ReverseSequence", [x, lens], attrs=attrs, opset=10)
    same(y, want)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 8), st.integers(1, 4), st.booleans(), seeds())
def test_tensor_scatter(b, h, s, d, circular, seed):
    rng = np.random.default_rng(seed)
    cache = rng.standard_normal((b, h, s, d)).astype(np.float32)
    u = int(rng.integers(1, s + 1))
    upd = rng.standard_normal((b, h, u, d)).astype(np.float32)
    wi = rng.integers(0, s if circular else s - u + 1, size=b).astype(np.int64)
    want = cache.copy()
    for i in range(b):
        for k in range(u):
            want[i, :, (wi[i] + k) % s if circular else wi[i] + k] = upd[i, :, k]
    attrs = {"mode": "circular" if circular else "linear"}
    (y,) = run_op("TensorScatter", [cache, upd, wi], attrs=attrs, opset=24)
    same(y, want)


def test_tensor_scatter_overflow():
    cache, upd = np.zeros((1, 1, 4, 2), np.float32), np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(r1.InputError, match="write index 3 with 2 rows does not fit a cache of 4 rows"):
        run_op("TensorScatter", [cache, upd, np.array([3], np.int64)], opset=24)


@given(shapes(1, 3, 1, 5), st.sampled_from([np.float32, np.int32, np.int64]), seeds(), st.data())
def test_cumprod(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0.5, 1.5, size=shape) if dt == np.float32 else rng.integers(-2, 3, size=shape)).astype(dt)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    exclusive, reverse = data.draw(st.booleans()), data.draw(st.booleans())
    v = np.flip(x, axis) if reverse else x
    want = np.cumprod(v, axis=axis, dtype=dt)
    if exclusive:
        want = np.concatenate([np.ones_like(np.take(v, [0], axis=axis)), np.delete(want, -1, axis=axis)], axis=axis)
    if reverse:
        want = np.flip(want, axis)
    attrs = {"exclusive": int(exclusive), "reverse": int(reverse)}
    (y,) = run_op("CumProd", [x], attrs=attrs, constants=[np.array(axis, np.int64)], opset=26)
    if dt == np.float32:
        assert y.dtype == want.dtype
        np.testing.assert_allclose(y, want, rtol=1e-5)
    else:
        same(y, want)


@given(
    shapes(0, 3, 1, 4),
    st.sampled_from(
        [
            (np.float32, np.int32, TensorProto.INT32),
            (np.int32, np.float32, TensorProto.FLOAT),
            (np.float16, BF16, TensorProto.BFLOAT16),
            (np.int8, np.uint8, TensorProto.UINT8),
        ]
    ),
    seeds(),
)
def test_bitcast(shape, types, seed):
    src, dst, code = types
    x = rand(np.random.default_rng(seed), shape, src)
    (y,) = run_op("BitCast", [x], attrs={"to": code}, opset=26)
    same(y, x.view(dst))


@given(shapes(0, 3, 1, 4), INTS, seeds(), st.sampled_from(["BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot"]))
def test_bitwise(shape, dt, seed, op):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dt)
    b = rng.integers(info.min, info.max, size=shape[-1:] if shape else (), endpoint=True).astype(dt)  # broadcast
    fn = {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor}
    if op == "BitwiseNot":
        (y,) = run_op(op, [a], opset=18)
        same(y, np.invert(a))
    else:
        (y,) = run_op(op, [a, b], opset=18)
        same(y, fn[op](a, b))


def test_bitwise_rejects_float():
    with pytest.raises(r1.ModelError, match="BitwiseAnd of dtype float32 is not supported"):
        run_op("BitwiseAnd", [np.ones(2, np.float32), np.ones(2, np.float32)], opset=18)


@given(shapes(0, 3, 1, 5), st.sampled_from([np.float32, np.float16, np.int32, np.int8]), seeds(), st.data())
def test_shrink(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dt) if np.dtype(dt).kind == "f" else rand(rng, shape, dt)
    lambd = data.draw(st.sampled_from([0.0, 0.5, 1.5]))
    bias = data.draw(st.sampled_from([0.0, 1.0, 1.5]))
    f = x.astype(np.float32)
    want = np.where(f < -lambd, f + bias, np.where(f > lambd, f - bias, 0)).astype(dt)
    (y,) = run_op("Shrink", [x], attrs={"lambd": lambd, "bias": bias}, opset=9)
    assert y.dtype == want.dtype
    np.testing.assert_allclose(y.astype(np.float64), want.astype(np.float64), rtol=1e-2 if dt == np.float16 else 1e-6)


@given(shapes(0, 3, 1, 5), seeds(), st.sampled_from([1.0, 0.5, 1.702]))
def test_swish(shape, seed, alpha):
    x = (np.random.default_rng(seed).standard_normal(shape) * 4).astype(np.float32)
    (y,) = run_op("Swish", [x], attrs={"alpha": alpha}, opset=24)
    want = x / (1 + np.exp(-alpha * x.astype(np.float64)))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@given(shapes(0, 2, 1, 3), st.integers(1, 6), seeds(), st.sampled_from([np.float32, np.float16]))
def test_det(batch, n, seed, dt):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(batch + (n, n)).astype(dt)
    if n > 2 and rng.integers(0, 4) == 0:
        x[..., 0, :] = x[..., 1, :]  # singular
    (y,) = run_op("Det", [x], opset=11)
    want = np.linalg.det(x.astype(np.float64))
    assert y.dtype == np.dtype(dt) and y.shape == want.shape
    tol = 1e-2 if dt == np.float16 else 1e-5
    np.testing.assert_allclose(
        y.astype(np.float64), want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0)))
    )
