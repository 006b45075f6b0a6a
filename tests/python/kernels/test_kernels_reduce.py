"""Property tests of the reductions (Reduce*, ArgMax/ArgMin), Softmax/LogSoftmax/Hardmax, the normalizations
and TopK (cpu/kernels/{reduce,softmax,hardmax,layernorm,batchnorm,normalization,topk}.cc) against numpy references computed in float64."""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.op_harness import run_op

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOATS = [np.dtype(np.float32), np.dtype(np.float16), BF16]
INTS = [np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.int8), np.dtype(np.uint8)]


def tol(dt, rtol32=1e-5, atol32=1e-5):
    dt = np.dtype(dt)
    if dt == np.float32:
        return dict(rtol=rtol32, atol=atol32)
    if dt == np.float16:
        return dict(rtol=1e-2, atol=1e-2)
    if dt == BF16:
        return dict(rtol=2e-2, atol=2e-2)
    return dict(rtol=0, atol=0)


def make_array(seed, shape, dt, low=None, high=None, positive=False):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    if dt.kind in "iu":
        lo = low if low is not None else (0 if dt.kind == "u" else -5)
        hi = high if high is not None else 6
        a = np.asarray(rng.integers(lo, hi, size=shape)).astype(dt)
        if a.size and not a.any():
            a.flat[0] = 1
        return a
    a = np.asarray(rng.standard_normal(shape))
    if positive:
        a = np.abs(a) + 0.1
    if a.size and not a.any():
        a.flat[0] = 1.0
    return np.asarray(a.astype(dt))


def f64(a):
    return np.asarray(a).astype(np.float64)


def check(got, want, dt, **kw):
    t = tol(dt, **kw)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if np.dtype(dt).kind in "iu" or (got.dtype == np.int64 and want.dtype.kind in "iu"):
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(f64(got), f64(np.asarray(want).astype(dt)), equal_nan=True, **t)


# rank-0 graph inputs are rejected by the engine front end (shared issue), so rank >= 1 here
shapes = st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**31 - 1)

# ---------------------------------------------------------------------------------------------
# Reduce*


def ref_reduce(op, x, axes, keepdims):
    dt = x.dtype
    a = x.astype(np.int64) if dt.kind in "iu" else f64(x)
    ax = tuple(axes) if axes is not None else None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if op == "ReduceSum":
            r = np.sum(a, axis=ax, keepdims=keepdims)
        elif op == "ReduceMean":
            r = np.mean(a, axis=ax, keepdims=keepdims)
        elif op == "ReduceMax":
            init = np.iinfo(dt).min if dt.kind in "iu" else -np.inf
            r = np.max(a, axis=ax, keepdims=keepdims, initial=init)
        elif op == "ReduceMin":
            init = np.iinfo(dt).max if dt.kind in "iu" else np.inf
            r = np.min(a, axis=ax, keepdims=keepdims, initial=init)
        elif op == "ReduceProd":
            r = np.prod(a, axis=ax, keepdims=keepdims)
        elif op == "ReduceL1":
            r = np.sum(np.abs(a), axis=ax, keepdims=keepdims)
        elif op == "ReduceL2":
            r = np.sqrt(np.sum(a * a, axis=ax, keepdims=keepdims))
        elif op == "ReduceLogSum":
            r = np.log(np.sum(a, axis=ax, keepdims=keepdims))
        elif op == "ReduceLogSumExp":
            r = np.log(np.sum(np.exp(a), axis=ax, keepdims=keepdims))
        elif op == "ReduceSumSquare":
            r = np.sum(a * a, axis=ax, keepdims=keepdims)
    r = np.asarray(r)
    if dt.kind in "iu":
        return r.astype(dt)
    return r


REDUCE_OPS = [
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
]
INT_REDUCE_OPS = {"ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceSumSquare"}


@pytest.mark.parametrize("op", REDUCE_OPS)
@given(data=st.data(), shape=shapes, seed=seeds)
def test_reduce(op, data, shape, seed):
    dts = FLOATS + (INTS if op in INT_REDUCE_OPS else [])
    dt = data.draw(st.sampled_from(dts))
    rank = len(shape)
    positive = op == "ReduceLogSum"
    low, high = (-2, 3) if op == "ReduceProd" else (None, None)
    if op == "ReduceProd" and np.dtype(dt).kind == "u":
        low, high = 0, 3
    x = make_array(seed, shape, dt, low, high, positive=positive)
    if op == "ReduceProd" and np.dtype(dt).kind == "f":
        x = (np.sign(f64(x)) * (0.5 + np.abs(f64(x)) % 1.0)).astype(dt)  # keep products tame
    axes = data.draw(
        st.none()
        | st.lists(
            st.integers(-rank, rank - 1) if rank else st.nothing(),
            unique_by=lambda a: a % rank if rank else a,
            max_size=rank,
        )
    )
    keepdims = data.draw(st.sampled_from([0, 1]))
    new_style = data.draw(st.booleans())
    opset = (13 if op == "ReduceSum" else 18) if new_style else 11
    attrs = {"keepdims": keepdims}
    consts = []
    if new_style:
        noop = data.draw(st.sampled_from([0, 1]))
        attrs["noop_with_empty_axes"] = noop
        if axes is not None:
            consts = [np.array(axes, dtype=np.int64)]
        if noop and not axes:
            (y,) = run_op(op, [x], attrs=attrs, constants=consts, opset=opset)
            np.testing.assert_array_equal(f64(y), f64(x))
            return
    elif axes:
        attrs["axes"] = axes
    (y,) = run_op(op, [x], attrs=attrs, constants=consts, opset=opset)
    want = ref_reduce(op, x, axes if axes else None, bool(keepdims))
    assert y.dtype == x.dtype
    check(y, want, dt, rtol32=1e-5, atol32=1e-5)


def test_reduce_axes_as_graph_input():
    x = make_array(1, (3, 4, 5), np.float32)
    import deepseek_r1 as r1
    from helpers.op_harness import make_op_model

    model = make_op_model("ReduceSum", [x, np.array([0, 2], dtype=np.int64)], attrs={"keepdims": 0}, opset=13)
    eng = r1.InferenceEngine(r1.Model(r1.load_onnx(model)))
    out = eng.run([x, np.array([0, 2], dtype=np.int64)])["out0"]
    np.testing.assert_allclose(out, x.sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
    out = eng.run([x, np.array([-1, 1], dtype=np.int64)])["out0"]
    np.testing.assert_allclose(out, x.sum(axis=(1, 2)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_minmax_bool(op):
    x = np.array([[True, False, False], [False, False, False]])
    (y,) = run_op(op, [x], constants=[np.array([1])], attrs={"keepdims": 0}, opset=20)
    want = x.any(axis=1) if op == "ReduceMax" else x.all(axis=1)
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize(
    "shape,axes", [((1 << 18,), None), ((3, 70000), [1]), ((300, 129), [0]), ((64, 33, 17), [0, 2]), ((1000, 512), [1])]
)
def test_reduce_large(shape, axes):
    x = make_array(7, shape, np.float32)
    for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp", "ReduceL2"]:
        c = [np.array(axes)] if axes is not None else []
        (y,) = run_op(op, [x], constants=c, attrs={"keepdims": 1}, opset=18)
        want = ref_reduce(op, x, axes, True)
        np.testing.assert_allclose(f64(y), want, rtol=1e-5, atol=1e-4, err_msg=op)


# ---------------------------------------------------------------------------------------------
# ArgMax / ArgMin


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@given(data=st.data(), shape=nonempty_shapes, seed=seeds)
def test_arg(op, data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS + INTS))
    x = make_array(seed, shape, dt, 0, 4)  # small int range: many ties
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    keepdims = data.draw(st.sampled_from([0, 1]))
    last = data.draw(st.sampled_from([0, 1]))
    (y,) = run_op(op, [x], attrs={"axis": axis, "keepdims": keepdims, "select_last_index": last}, opset=13)
    a = f64(x)
    f = np.argmax if op == "ArgMax" else np.argmin
    if last:
        want = a.shape[axis] - 1 - f(np.flip(a, axis=axis), axis=axis)
    else:
        want = f(a, axis=axis)
    if keepdims:
        want = np.expand_dims(want, axis)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, want)


def test_arg_empty_outer():
    x = np.zeros((0, 3), np.float32)
    (y,) = run_op("ArgMax", [x], attrs={"axis": 1}, opset=13)
    assert y.shape == (0, 1)


# ---------------------------------------------------------------------------------------------
# Softmax / LogSoftmax / Hardmax


def ref_softmax(op, x, axis, opset):
    a = f64(x)
    shape = a.shape
    if opset < 13:
        ax = axis if axis >= 0 else axis + a.ndim
        a = a.reshape(int(np.prod(shape[:ax], dtype=np.int64)), -1)
        axis = 1
    if op == "Hardmax":
        idx = np.argmax(a, axis=axis)
        r = np.zeros_like(a)
        np.put_along_axis(r, np.expand_dims(idx, axis), 1.0, axis=axis)
    else:
        m = np.max(a, axis=axis, keepdims=True)
        e = np.exp(a - m)
        s = e.sum(axis=axis, keepdims=True)
        r = e / s if op == "Softmax" else a - m - np.log(s)
    return r.reshape(shape)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@given(data=st.data(), shape=nonempty_shapes, seed=seeds)
def test_softmax(op, data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    x = (make_array(seed, shape, np.float32) * 3).astype(dt)
    rank = len(shape)
    opset = data.draw(st.sampled_from([11, 13]))
    axis = data.draw(st.integers(-rank, rank - 1))
    (y,) = run_op(op, [x], attrs={"axis": axis}, opset=opset)
    want = ref_softmax(op, x, axis, opset)
    assert y.dtype == x.dtype
    check(y, want, dt, rtol32=1e-5, atol32=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_large_and_masked(op):
    x = make_array(3, (64, 1000), np.float32) * 10
    x[:, 500:] = -np.inf  # masked positions
    x[0, :] = 1e30 * 0  # constant row
    (y,) = run_op(op, [x], attrs={"axis": -1}, opset=13)
    with np.errstate(all="ignore"):
        want = ref_softmax(op, x, -1, 13)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    x = make_array(4, (4, 300, 7), np.float32) * 5
    (y,) = run_op(op, [x], attrs={"axis": 1}, opset=13)
    np.testing.assert_allclose(y, ref_softmax(op, x, 1, 13), rtol=1e-5, atol=1e-6)


def test_softmax_empty():
    x = np.zeros((0, 4), np.float32)
    (y,) = run_op("Softmax", [x], attrs={"axis": -1}, opset=13)
    assert y.shape == (0, 4)


# ---------------------------------------------------------------------------------------------
# Normalizations


@given(data=st.data(), shape=nonempty_shapes, seed=seeds)
def test_layer_norm(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    ax = axis % rank
    x = (make_array(seed, shape, np.float32) * 2 + 1).astype(dt)
    ns = shape[ax:]
    scale = make_array(seed + 1, ns, dt)
    bias = make_array(seed + 2, ns, dt) if data.draw(st.booleans()) else None
    eps = data.draw(st.sampled_from([1e-5, 1e-3]))
    (y, mean, inv) = run_op(
        "LayerNormalization", [x, scale, bias], attrs={"axis": axis, "epsilon": eps}, n_outputs=3, opset=17
    )
    a = f64(x)
    red = tuple(range(ax, rank))
    m = a.mean(axis=red, keepdims=True)
    v = ((a - m) ** 2).mean(axis=red, keepdims=True)
    iv = 1 / np.sqrt(v + eps)
    want = (a - m) * iv * f64(scale) + (f64(bias) if bias is not None else 0)
    check(y, want, dt, rtol32=1e-4, atol32=1e-4)
    np.testing.assert_allclose(mean, m, rtol=1e-4, atol=1e-4 if dt == np.float32 else 1e-2)
    np.testing.assert_allclose(inv, iv, rtol=1e-3, atol=1e-3)


def test_layer_norm_broadcast_scale():
    x = make_array(5, (2, 3, 8), np.float32)
    scale = make_array(6, (1, 8), np.float32)
    (y,) = run_op("LayerNormalization", [x, scale], attrs={"axis": -2}, opset=17)
    a = f64(x)
    m = a.mean(axis=(1, 2), keepdims=True)
    v = a.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (a - m) / np.sqrt(v + 1e-5) * f64(scale), rtol=1e-4, atol=1e-4)


@given(data=st.data(), shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), seed=seeds)
def test_batch_norm(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    opset = data.draw(st.sampled_from([9, 14, 15]))
    c = shape[1]
    x = make_array(seed, shape, dt)
    scale, bias, mean = (make_array(seed + k, (c,), dt) for k in (1, 2, 3))
    var = make_array(seed + 4, (c,), dt, positive=True)
    eps = 1e-3
    (y,) = run_op("BatchNormalization", [x, scale, bias, mean, var], attrs={"epsilon": eps}, opset=opset)
    bs = (1, c) + (1,) * (len(shape) - 2)
    want = (f64(x) - f64(mean).reshape(bs)) / np.sqrt(f64(var).reshape(bs) + eps) * f64(scale).reshape(bs) + f64(
        bias
    ).reshape(bs)
    check(y, want, dt, rtol32=1e-4, atol32=1e-4)


def ref_group_norm(x, groups, scale, bias, eps):
    a = f64(x)
    n, c = a.shape[:2]
    r = a.reshape(n, groups, -1)
    m = r.mean(axis=2, keepdims=True)
    v = r.var(axis=2, keepdims=True)
    y = ((r - m) / np.sqrt(v + eps)).reshape(a.shape)
    bs = (1, c) + (1,) * (a.ndim - 2)
    return y * f64(scale).reshape(bs) + f64(bias).reshape(bs)


@given(data=st.data(), shape=st.lists(st.integers(1, 5), min_size=3, max_size=4).map(tuple), seed=seeds)
def test_instance_norm(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    c = shape[1]
    x = (make_array(seed, shape, np.float32) * 3 - 1).astype(dt)
    scale, bias = make_array(seed + 1, (c,), dt), make_array(seed + 2, (c,), dt)
    (y,) = run_op("InstanceNormalization", [x, scale, bias], attrs={"epsilon": 1e-4}, opset=6 + 7)
    check(y, ref_group_norm(x, c, scale, bias, 1e-4), dt, rtol32=1e-4, atol32=1e-4)


@given(
    data=st.data(),
    n=st.integers(1, 3),
    groups=st.integers(1, 3),
    gs=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 4), max_size=2),
    seed=seeds,
)
def test_group_norm(data, n, groups, gs, spatial, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    c = groups * gs
    shape = (n, c, *spatial)
    x = make_array(seed, shape, dt)
    opset = data.draw(st.sampled_from([18, 21]))
    if opset == 21:
        scale, bias = make_array(seed + 1, (c,), dt), make_array(seed + 2, (c,), dt)
        sc, bi = scale, bias
    else:
        scale, bias = make_array(seed + 1, (groups,), dt), make_array(seed + 2, (groups,), dt)
        sc, bi = np.repeat(scale, gs), np.repeat(bias, gs)
    (y,) = run_op("GroupNormalization", [x, scale, bias], attrs={"num_groups": groups, "epsilon": 1e-3}, opset=opset)
    want = ref_group_norm(x, groups, sc, bi, 1e-3)
    check(y, want, dt, rtol32=1e-4, atol32=1e-4)


@given(data=st.data(), shape=nonempty_shapes, seed=seeds)
def test_lp_norm(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    p = data.draw(st.sampled_from([1, 2]))
    x = make_array(seed, shape, dt)
    (y,) = run_op("LpNormalization", [x], attrs={"axis": axis, "p": p}, opset=13)
    a = f64(x)
    norm = np.sum(np.abs(a) ** p, axis=axis, keepdims=True) ** (1.0 / p)
    with np.errstate(all="ignore"):
        want = np.where(norm == 0, 0.0, a / norm)
    check(y, want, dt, rtol32=1e-5, atol32=1e-6)


@given(data=st.data(), shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), seed=seeds)
def test_mvn(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS))
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(0, rank - 1), unique=True, min_size=1, max_size=rank))
    x = (make_array(seed, shape, np.float32) * 2 + 0.5).astype(dt)
    (y,) = run_op("MeanVarianceNormalization", [x], attrs={"axes": axes}, opset=13)
    a = f64(x)
    m = a.mean(axis=tuple(axes), keepdims=True)
    v = (a * a).mean(axis=tuple(axes), keepdims=True) - m * m
    want = (a - m) / (np.sqrt(np.maximum(v, 0)) + 1e-9)
    # all-equal groups give 0 / 1e-9 with rounding noise; compare only well-conditioned groups
    ok = np.broadcast_to(v > 1e-3, a.shape)
    got = f64(y)
    check(np.where(ok, got, 0), np.where(ok, want, 0).astype(dt), dt, rtol32=1e-4, atol32=1e-4)


def test_mvn_default_axes():
    x = make_array(9, (2, 3, 4, 5), np.float32)
    (y,) = run_op("MeanVarianceNormalization", [x], opset=13)
    a = f64(x)
    m = a.mean(axis=(0, 2, 3), keepdims=True)
    v = (a * a).mean(axis=(0, 2, 3), keepdims=True) - m * m
    np.testing.assert_allclose(y, (a - m) / (np.sqrt(v) + 1e-9), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# TopK


@given(data=st.data(), shape=nonempty_shapes, seed=seeds)
def test_topk(data, shape, seed):
    dt = data.draw(st.sampled_from(FLOATS + INTS))
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    k = data.draw(st.integers(0, shape[axis]))
    largest = data.draw(st.sampled_from([0, 1]))
    x = make_array(seed, shape, dt, 0, 4)  # ties on ints
    opset = data.draw(st.sampled_from([10, 11]))
    attrs = {"axis": axis} if opset == 10 else {"axis": axis, "largest": largest, "sorted": 1}
    if opset == 10:
        largest = 1
    v, i = run_op("TopK", [x], attrs=attrs, constants=[np.array([k], dtype=np.int64)], n_outputs=2, opset=opset)
    a = f64(x)
    order = np.argsort(-a if largest else a, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    assert i.dtype == np.int64 and v.dtype == x.dtype
    np.testing.assert_array_equal(i, idx)
    np.testing.assert_array_equal(v, np.take_along_axis(x, idx, axis=axis))


def test_topk_opset1_attr():
    x = make_array(2, (3, 10), np.float32)
    _v, i = run_op("TopK", [x], attrs={"k": 3, "axis": 1}, n_outputs=2, opset=9)
    idx = np.argsort(-x, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(i, idx)


def test_topk_k_too_large():
    import deepseek_r1 as r1

    x = make_array(2, (3, 4), np.float32)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("TopK", [x], constants=[np.array([5])], n_outputs=2, opset=11)


def test_bad_attributes():
    import deepseek_r1 as r1

    x = make_array(2, (3, 4), np.float32)
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("LpNormalization", [x], attrs={"p": 3}, opset=13)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("ReduceSum", [x], attrs={"axes": [5]}, opset=11)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Softmax", [x], attrs={"axis": 2}, opset=13)
