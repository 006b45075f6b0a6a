"""GPU views, data movement, index ops and reductions (cuda/kernels/views.cc, {transpose,concat_split,
slice,expand_tile,pad,where,trilu,cast,gather_scatter,reduce}.cu) against numpy.

Each kernel runs through _core.run_kernel on the first GPU device (host arrays in and out) and the
module skips where there is none. Byte-moving ops are checked bit-exactly over every dtype;
arithmetic (scatter reductions, Reduce*, Cast) against float64 references computed from the
inputs already rounded to their dtype: float32 1e-5 relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import deepseek_r1 as r1
from deepseek_r1 import _core

pytestmark = pytest.mark.gpu

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
FLOATS = [F32, F16, BF16]
ALL = FLOATS + [np.dtype(t) for t in (np.int8, np.uint8, np.int32, np.int64, np.bool_)]
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


def i64(*v):
    return np.array(v, dtype=np.int64)


def assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.tobytes() == want.tobytes()


def assert_close(got, want, dtype):
    rtol, atol = TOL[np.dtype(dtype)]
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# Views


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_views(dev, dtype):
    rng = np.random.default_rng(0)
    x = rand(rng, (2, 3, 1, 4), dtype)
    (y,) = run(dev, "Reshape", [x, i64(0, -1, 2)], opset=14)
    assert_same(y, x.reshape(2, 6, 2))
    (y,) = run(dev, "Flatten", [x], {"axis": ("int", -2)}, opset=13)
    assert_same(y, x.reshape(6, 4))
    (y,) = run(dev, "Squeeze", [x, i64(-2)], opset=13)
    assert_same(y, x.reshape(2, 3, 4))
    (y,) = run(dev, "Squeeze", [x], opset=13)
    assert_same(y, x.reshape(2, 3, 4))
    (y,) = run(dev, "Squeeze", [x], {"axes": ("ints", [2])}, opset=11)
    assert_same(y, x.reshape(2, 3, 4))
    (y,) = run(dev, "Unsqueeze", [x, i64(0, -1)], opset=13)
    assert_same(y, x.reshape(1, 2, 3, 1, 4, 1))
    (y,) = run(dev, "Identity", [x])
    assert_same(y, x)


# ---------------------------------------------------------------------------------------------
# Data movement


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL))
def test_transpose(dev, shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype)
    perm = [int(p) for p in rng.permutation(len(shape))]
    (y,) = run(dev, "Transpose", [x], {"perm": ("ints", perm)})
    assert_same(y, np.transpose(x, perm))
    (y,) = run(dev, "Transpose", [x])
    assert_same(y, np.transpose(x))


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL), n=st.integers(1, 4))
def test_concat(dev, shape, seed, dtype, n):
    rng = np.random.default_rng(seed)
    axis = int(rng.integers(-len(shape), len(shape)))
    xs = []
    for _ in range(n):
        s = list(shape)
        s[axis] = int(rng.integers(0, 4))
        xs.append(rand(rng, s, dtype))
    (y,) = run(dev, "Concat", xs, {"axis": ("int", axis)}, opset=13)
    assert_same(y, np.concatenate(xs, axis=axis))


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL))
def test_split(dev, shape, seed, dtype):
    rng = np.random.default_rng(seed)
    axis = int(rng.integers(-len(shape), len(shape)))
    x = rand(rng, shape, dtype)
    n = shape[axis]
    cut = sorted(int(c) for c in rng.integers(0, n + 1, size=2))
    sizes = [cut[0], cut[1] - cut[0], n - cut[1]]
    ys = run(dev, "Split", [x, np.array(sizes, np.int64)], {"axis": ("int", axis)}, opset=13, num_outputs=3)
    for y, w in zip(ys, np.split(x, cut, axis=axis)):
        assert_same(y, w)
    k = int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))  # equal chunks
    ys = run(dev, "Split", [x], {"axis": ("int", axis), "num_outputs": ("int", k)}, opset=18, num_outputs=k)
    want = np.split(x, k, axis=axis)
    assert len(ys) == len(want)
    for y, w in zip(ys, want):
        assert_same(y, w)


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL))
def test_slice_negative_steps(dev, shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype)
    r = len(shape)
    axes = [int(a) for a in rng.permutation(r)[: int(rng.integers(1, r + 1))]]
    starts, ends, steps, sl = [], [], [], [slice(None)] * r
    for a in axes:
        n = shape[a]
        s, e = (int(v) for v in rng.integers(-n - 2, n + 3, size=2))
        p = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        if p < 0:
            s = max(s, -n)  # below -n, ONNX clamps a negative-step start to 0 where Python gives nothing
        starts.append(s)
        ends.append(e)
        steps.append(p)
        sl[a] = slice(s, e, p)
    neg_axes = [a - r if rng.random() < 0.5 else a for a in axes]
    (y,) = run(dev, "Slice", [x, i64(*starts), i64(*ends), i64(*neg_axes), i64(*steps)], opset=13)
    assert_same(y, x[tuple(sl)])


def test_slice_defaults(dev):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    (y,) = run(dev, "Slice", [x, i64(1, 0), i64(2, 3)], opset=13)  # axes 0, 1; step 1
    assert_same(y, x[1:2, 0:3])
    (y,) = run(dev, "Slice", [x, i64(-1), i64(-(2**62)), i64(2), i64(-1)], opset=13)
    assert_same(y, x[:, :, ::-1])


@given(seed=seeds, dtype=st.sampled_from(ALL), data=st.data())
def test_expand_and_tile(dev, seed, dtype, data):
    rng = np.random.default_rng(seed)
    shape = data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x = rand(rng, shape, dtype)
    target = [int(s) if s != 1 or rng.random() < 0.5 else int(rng.integers(1, 4)) for s in shape]
    target = [int(rng.integers(1, 3))] * int(rng.integers(0, 2)) + target
    (y,) = run(dev, "Expand", [x, np.array(target, np.int64)], opset=13)
    assert_same(y, np.broadcast_to(x, target))
    reps = [int(v) for v in rng.integers(0, 4, size=len(shape))]
    (y,) = run(dev, "Tile", [x, np.array(reps, np.int64)], opset=13)
    assert_same(y, np.tile(x, reps))


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("dtype", [F32, F16, BF16, np.dtype(np.int8), np.dtype(np.int64), np.dtype(np.bool_)], ids=str)
def test_pad(dev, mode, dtype):
    rng = np.random.default_rng(7)
    for _ in range(6):
        shape = [int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4)))]
        x = rand(rng, shape, dtype)
        limit = [n - 1 if mode == "reflect" else 4 for n in shape]
        pb = [int(rng.integers(0, m + 1)) for m in limit]
        pe = [int(rng.integers(0, m + 1)) for m in limit]
        cval = rand(rng, (), dtype)
        inputs = [x, np.array(pb + pe, np.int64)]
        if mode == "constant":
            inputs.append(np.array(cval, dtype))
        opset = 19 if mode == "wrap" else 13
        (y,) = run(dev, "Pad", inputs, {"mode": ("string", mode)}, opset=opset)
        kw = {"constant_values": cval} if mode == "constant" else {}
        want = np.pad(x, list(zip(pb, pe)), mode=mode, **kw)
        assert_same(y, want)


def test_pad_axes_and_default_value(dev):
    x = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    (y,) = run(dev, "Pad", [x, i64(1, 2), None, i64(-1)], opset=18)
    assert_same(y, np.pad(x, [(0, 0), (1, 2)]))


@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=5),
    seed=seeds,
    dtype=st.sampled_from(ALL),
)
def test_where_broadcast(dev, shapes, seed, dtype):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    c = rng.random(sc) < 0.5
    a = rand(rng, sa, dtype)
    b = rand(rng, sb, dtype)
    (y,) = run(dev, "Where", [np.asarray(c), a, b])
    assert_same(y, np.where(c, a, b))


@given(seed=seeds, dtype=st.sampled_from(ALL), upper=st.booleans(), k=st.integers(-4, 4))
def test_trilu(dev, seed, dtype, upper, k):
    rng = np.random.default_rng(seed)
    shape = [int(v) for v in rng.integers(1, 6, size=int(rng.integers(2, 4)))]
    x = rand(rng, shape, dtype)
    (y,) = run(dev, "Trilu", [x, np.array(k, np.int64)], {"upper": ("int", int(upper))}, opset=14)
    want = np.triu(x, k) if upper else np.tril(x, k)
    assert_same(y, want.astype(x.dtype))


def test_dropout(dev):
    x = rand(np.random.default_rng(3), (3, 5), F16)
    y, mask = run(dev, "Dropout", [x], opset=13, num_outputs=2)
    assert_same(y, x)
    assert_same(mask, np.ones(x.shape, bool))


def cast_ref(x, to):
    to = np.dtype(to)
    if to == np.bool_:
        return x.astype(np.float64) != 0 if x.dtype != np.bool_ else x.copy()
    if x.dtype in FLOATS and to.kind in "iu":
        info = np.iinfo(to)
        f = x.astype(np.float32).astype(np.float64)
        t = np.where(np.isnan(f), 0, np.clip(np.trunc(np.nan_to_num(f)), info.min, info.max))
        return t.astype(to)
    if to in (F16, BF16):
        return x.astype(np.float32).astype(to)
    return x.astype(to)


@pytest.mark.parametrize("src", ALL, ids=str)
@pytest.mark.parametrize("to", ALL, ids=str)
def test_cast(dev, src, to):
    rng = np.random.default_rng(11)
    if src in FLOATS:
        x = rng.uniform(-100.9, 100.9, size=(4, 33)).astype(src)
        x[0, :4] = [0.0, -0.0, 0.49, -0.99]
    else:
        x = rand(rng, (4, 33), src)
    code = {
        F32: 1,
        np.dtype(np.uint8): 2,
        np.dtype(np.int8): 3,
        np.dtype(np.int32): 6,
        np.dtype(np.int64): 7,
        np.dtype(np.bool_): 9,
        F16: 10,
        BF16: 16,
    }[to]
    (y,) = run(dev, "Cast", [x], {"to": ("int", code)}, opset=19)
    assert_same(y, cast_ref(x, to))
    (y,) = run(dev, "CastLike", [x, np.zeros(1, to)], opset=19)
    assert_same(y, cast_ref(x, to))


def test_cast_saturates(dev):
    x = np.array([1e10, -1e10, np.nan, 300.7, -300.7, np.inf, -np.inf], np.float32)
    (y,) = run(dev, "Cast", [x], {"to": ("int", 6)}, opset=19)
    assert_same(y, np.array([2**31 - 1, -(2**31), 0, 300, -300, 2**31 - 1, -(2**31)], np.int32))
    (y,) = run(dev, "Cast", [x], {"to": ("int", 3)}, opset=19)
    assert_same(y, np.array([127, -128, 0, 127, -128, 127, -128], np.int8))
    (y,) = run(dev, "Cast", [x], {"to": ("int", 2)}, opset=19)
    assert_same(y, np.array([255, 0, 0, 255, 0, 255, 0], np.uint8))


# ---------------------------------------------------------------------------------------------
# Index ops


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL), itype=st.sampled_from([np.int32, np.int64]))
def test_gather(dev, shape, seed, dtype, itype):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype)
    axis = int(rng.integers(-len(shape), len(shape)))
    n = shape[axis]
    ishape = tuple(int(v) for v in rng.integers(0, 4, size=int(rng.integers(0, 3))))
    ind = rng.integers(-n, n, size=ishape).astype(itype)
    (y,) = run(dev, "Gather", [x, ind], {"axis": ("int", axis)}, opset=13)
    assert_same(y, np.take(x, ind, axis=axis))


def test_gather_out_of_range_gives_zeros(dev):
    x = np.arange(1, 13, dtype=np.float32).reshape(4, 3)
    ind = np.array([1, 7, -1, -9], np.int64)
    (y,) = run(dev, "Gather", [x, ind], {"axis": ("int", 0)}, opset=13)
    want = np.stack([x[1], np.zeros(3, np.float32), x[3], np.zeros(3, np.float32)])
    assert_same(y, want)


@given(shape=shapes, seed=seeds, dtype=st.sampled_from(ALL))
def test_gather_elements(dev, shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype)
    axis = int(rng.integers(-len(shape), len(shape)))
    ishape = [int(rng.integers(1, s + 1)) for s in shape]
    ishape[axis] = int(rng.integers(1, 5))
    ind = rng.integers(-shape[axis], shape[axis], size=ishape).astype(np.int64)
    (y,) = run(dev, "GatherElements", [x, ind], {"axis": ("int", axis)}, opset=13)
    grid = list(np.indices(ind.shape, sparse=True))
    grid[axis] = np.where(ind < 0, ind + shape[axis], ind)
    assert_same(y, x[tuple(grid)])


def gather_nd_ref(x, ind, b):
    bshape = x.shape[:b]
    xs = x.reshape((-1,) + x.shape[b:])
    inds = ind.reshape((-1,) + ind.shape[b:])
    outs = []
    for xb, ib in zip(xs, inds):
        flat = ib.reshape(-1, ib.shape[-1])
        outs.append(np.stack([xb[tuple(t)] for t in flat]).reshape(ib.shape[:-1] + xb.shape[ib.shape[-1] :]))
    return np.stack(outs).reshape(bshape + outs[0].shape)


@pytest.mark.parametrize("b", [0, 1])
@pytest.mark.parametrize("dtype", [F32, BF16, np.dtype(np.int64), np.dtype(np.uint8)], ids=str)
def test_gather_nd(dev, b, dtype):
    rng = np.random.default_rng(5)
    x = rand(rng, (3, 4, 5, 2), dtype)
    for k in range(1, 4 - b):
        dims = x.shape[b : b + k]
        ind = np.stack([rng.integers(-d, d, size=(3, 2)) for d in dims], axis=-1).astype(np.int32)
        (y,) = run(dev, "GatherND", [x, ind], {"batch_dims": ("int", b)}, opset=13)
        assert_same(y, gather_nd_ref(x, np.where(ind < 0, ind + np.array(dims), ind), b))


def scatter_elements_ref(x, ind, upd, axis, red):
    y = x.astype(np.float64) if red != "none" else x.copy()
    ind = np.where(ind < 0, ind + x.shape[axis], ind)
    for pos in np.ndindex(*ind.shape):
        tgt = list(pos)
        tgt[axis] = ind[pos]
        tgt = tuple(tgt)
        u = upd[pos]
        if red == "none":
            y[tgt] = u
        elif red == "add":
            y[tgt] += float(u)
        elif red == "mul":
            y[tgt] *= float(u)
        elif red == "max":
            y[tgt] = max(y[tgt], float(u))
        else:
            y[tgt] = min(y[tgt], float(u))
    return y


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_scatter_elements_none(dev, dtype):
    rng = np.random.default_rng(9)
    x = rand(rng, (4, 6, 3), dtype)
    for axis in (0, 1, -1):
        n = x.shape[axis]
        ishape = list(x.shape)
        ishape[axis] = n - 1
        # a permutation along the axis, so no two updates hit one element
        ind = np.argsort(rng.random(x.shape), axis=axis).take(range(n - 1), axis=axis) - n * (rng.random() < 0.5)
        upd = rand(rng, ishape, dtype)
        (y,) = run(dev, "ScatterElements", [x, ind.astype(np.int64), upd], {"axis": ("int", axis)}, opset=16)
        assert_same(y, scatter_elements_ref(x, ind, upd, axis % 3, "none"))


@pytest.mark.parametrize("red", ["add", "mul", "max", "min"])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_scatter_elements_reduce(dev, red, dtype):
    rng = np.random.default_rng(10)
    x = rand(rng, (5, 4), dtype, 0.5, 1.5)
    ind = rng.integers(-5, 5, size=(9, 4)).astype(np.int32)  # duplicates on purpose
    upd = rand(rng, (9, 4), dtype, 0.5, 1.5)
    (y,) = run(dev, "ScatterElements", [x, ind, upd], {"axis": ("int", 0), "reduction": ("string", red)}, opset=18)
    tol = 1e-5 if dtype == F32 else 3e-2  # 16-bit results round at each of the updates
    np.testing.assert_allclose(y.astype(np.float64), scatter_elements_ref(x, ind, upd, 0, red), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [F32, F16, np.dtype(np.int32), np.dtype(np.bool_)], ids=str)
def test_scatter_nd(dev, dtype):
    rng = np.random.default_rng(12)
    x = rand(rng, (4, 5, 3), dtype)
    for k in (1, 2, 3):
        dims = x.shape[:k]
        flat = rng.permutation(int(np.prod(dims)))[:3]
        ind = np.stack(np.unravel_index(flat, dims), axis=-1).astype(np.int64)
        ind[0] -= np.array(dims)  # negative indices wrap
        upd = rand(rng, (3,) + x.shape[k:], dtype)
        (y,) = run(dev, "ScatterND", [x, ind, upd], opset=16)
        want = x.copy()
        for t in range(3):
            want[tuple(np.where(ind[t] < 0, ind[t] + np.array(dims), ind[t]))] = upd[t]
        assert_same(y, want)


def test_scatter_nd_add_duplicates(dev):
    x = np.ones((4, 3), np.float32)
    ind = np.array([[1], [1], [3], [-3]], np.int64)
    upd = np.arange(12, dtype=np.float32).reshape(4, 3)
    (y,) = run(dev, "ScatterND", [x, ind, upd], {"reduction": ("string", "add")}, opset=16)
    want = x.copy()
    want[1] += upd[0] + upd[1] + upd[3]
    want[3] += upd[2]
    np.testing.assert_allclose(y, want, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Reductions

REDUCE = {
    "ReduceSum": (np.sum, (0.5, 2.0)),
    "ReduceMean": (np.mean, (0.5, 2.0)),
    "ReduceMax": (np.max, (-3.0, 3.0)),
    "ReduceMin": (np.min, (-3.0, 3.0)),
    "ReduceProd": (np.prod, (0.95, 1.05)),
    "ReduceSumSquare": (lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims), (-2.0, 2.0)),
    "ReduceL1": (lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims), (-2.0, 2.0)),
    "ReduceL2": (lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)), (-2.0, 2.0)),
    "ReduceLogSum": (lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)), (0.5, 2.0)),
    "ReduceLogSumExp": (lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)), (-3.0, 3.0)),
}


@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=9),
    seed=seeds,
    dtype=st.sampled_from(FLOATS),
    op=st.sampled_from(sorted(REDUCE)),
    keepdims=st.booleans(),
    axes_input=st.booleans(),
)
def test_reduce(dev, shape, seed, dtype, op, keepdims, axes_input):
    rng = np.random.default_rng(seed)
    ref, (lo, hi) = REDUCE[op]
    x = rand(rng, shape, dtype, lo, hi)
    r = len(shape)
    picked = [int(a) for a in rng.permutation(r)[: int(rng.integers(0, r + 1))]]
    axes = [a - r if rng.random() < 0.5 else a for a in picked]
    attrs = {"keepdims": ("int", int(keepdims))}
    if axes_input:
        opset = 18
        (y,) = run(dev, op, [x, np.array(axes, np.int64)], attrs, opset=opset)
    else:
        opset = 12 if op == "ReduceSum" else 17
        if axes:
            attrs["axes"] = ("ints", axes)
        (y,) = run(dev, op, [x], attrs, opset=opset)
    ax = tuple(a % r for a in axes) if axes else None
    want = ref(x.astype(np.float64), axis=ax, keepdims=keepdims)
    assert_close(y, want, dtype)


def test_reduce_long_rows(dev):
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 1.5, size=(3, 5000)).astype(np.float32)
    (y,) = run(dev, "ReduceSum", [x, i64(-1)], {"keepdims": ("int", 0)}, opset=13)
    np.testing.assert_allclose(y, x.astype(np.float64).sum(-1), rtol=1e-5)
    (y,) = run(dev, "ReduceLogSumExp", [x], {"keepdims": ("int", 0)}, opset=17)
    np.testing.assert_allclose(y, np.log(np.exp(x.astype(np.float64)).sum()), rtol=1e-5)
    (y,) = run(dev, "ReduceMax", [x, i64(0)], {"keepdims": ("int", 1)}, opset=18)
    assert_same(y, x.max(0, keepdims=True))


def test_reduce_noop_and_empty(dev):
    x = rand(np.random.default_rng(2), (2, 3), F32)
    (y,) = run(dev, "ReduceSum", [x, np.zeros(0, np.int64)], {"noop_with_empty_axes": ("int", 1)}, opset=13)
    assert_same(y, x)
    (y,) = run(dev, "ReduceMean", [x, np.zeros(0, np.int64)], {"keepdims": ("int", 0)}, opset=18)
    np.testing.assert_allclose(y, x.astype(np.float64).mean(), rtol=1e-5)
    e = np.zeros((3, 0, 2), np.float32)
    for op, val in [
        ("ReduceSum", 0.0),
        ("ReduceProd", 1.0),
        ("ReduceMax", -np.inf),
        ("ReduceMin", np.inf),
        ("ReduceSumSquare", 0.0),
        ("ReduceLogSumExp", -np.inf),
    ]:
        (y,) = run(dev, op, [e, i64(1)], {"keepdims": ("int", 0)}, opset=18)
        assert_same(y, np.full((3, 2), val, np.float32))


@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=9),
    seed=seeds,
    dtype=st.sampled_from(FLOATS),
    op=st.sampled_from(["ArgMax", "ArgMin"]),
    keepdims=st.booleans(),
    last=st.booleans(),
)
def test_argmax_argmin(dev, shape, seed, dtype, op, keepdims, last):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # few distinct values: many ties
    r = len(shape)
    axis = int(rng.integers(-r, r))
    attrs = {"axis": ("int", axis), "keepdims": ("int", int(keepdims)), "select_last_index": ("int", int(last))}
    (y,) = run(dev, op, [x], attrs, opset=13)
    f = np.argmax if op == "ArgMax" else np.argmin
    xf = x.astype(np.float64)
    if last:
        n = shape[axis]
        want = n - 1 - f(np.flip(xf, axis=axis), axis=axis)
    else:
        want = f(xf, axis=axis)
    if keepdims:
        want = np.expand_dims(want, axis)
    assert_same(y, want.astype(np.int64))


def test_argmax_long_rows_and_nan(dev):
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, size=(2, 3000)).astype(np.float32)
    x[0, 2999] = 5.0
    x[1, 17] = np.nan
    x[1, 1234] = 4.0
    (y,) = run(dev, "ArgMax", [x], {"axis": ("int", 1), "keepdims": ("int", 0)}, opset=13)
    assert_same(y, np.array([2999, 1234], np.int64))
    x[1, 0] = np.nan  # the CPU kernel's scan: a NaN first element wins
    (y,) = run(dev, "ArgMin", [x], {"axis": ("int", -1), "keepdims": ("int", 0)}, opset=13)
    assert y[1] == 0 and y[0] == int(np.argmin(x[0]))


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors(dev):
    x = np.ones((2, 3), np.float32)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "Gather", [x, np.zeros(2, np.float32)], {"axis": ("int", 0)}, opset=13)
    with pytest.raises(r1.InputError, match="float32, float16 and bfloat16"):
        run(dev, "ReduceSum", [np.ones((2, 3), np.int32), i64(0)], opset=13)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "ArgMax", [np.zeros((2, 0), np.float32)], {"axis": ("int", 1)}, opset=13)
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(
            dev,
            "ScatterElements",
            [np.ones((3,), np.int32), i64(0), np.ones((1,), np.int32)],
            {"reduction": ("string", "add")},
            opset=18,
        )
    with pytest.raises((r1.InputError, r1.ModelError)):
        run(dev, "Pad", [x, i64(0, 1, 0, 1), np.array(1, np.int32)], opset=13)
