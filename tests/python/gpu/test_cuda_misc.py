"""GPU Hardmax, CumSum, TopK and the depth/space kernels (cuda/kernels/{hardmax,cumsum,topk,space_depth}.cu).

Hardmax, CumSum, TopK, DepthToSpace and SpaceToDepth (the generators are in test_cuda_generators.py). Each kernel
runs through _core.run_kernel on the first GPU device (the session `dev` fixture of conftest.py; host_inputs are
honoured) and the module skips where there is none. Byte-moving and integer results are compared exactly; float
results against float64 references computed from the inputs already rounded to their dtype: float32 1e-5 relative,
float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import deepseek_r1 as r1
from helpers.cuda_misc_harness import ALL, FLOATS, assert_close, assert_same, seeds
from helpers.gpu_kernels import rand, run

pytestmark = pytest.mark.gpu

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
