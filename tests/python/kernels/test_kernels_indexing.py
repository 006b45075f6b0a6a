"""Property tests of the indexing ops (Gather, GatherElements, GatherND, ScatterND, ScatterElements, OneHot, CumSum,
NonZero, Trilu, EyeLike) against numpy references.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper

from helpers.dtype_arrays import BF16, dtypes, num_dtypes, rand, same, seeds, shapes
from helpers.op_harness import run_op

# ----------------------------------------------------------------------------------------------- indexing


@given(shapes(1, 4, 1, 5), dtypes, seeds(), st.data(), st.sampled_from([np.int32, np.int64]))
def test_gather(shape, dt, seed, data, it):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    ishape = data.draw(shapes(0, 2, 0, 4))
    d = shape[axis]
    idx = rng.integers(-d, d, size=ishape).astype(it)
    (y,) = run_op("Gather", [x, idx], attrs={"axis": axis})
    same(y, np.take(x, idx.astype(np.int64), axis=axis))
    # constant indices as well
    (y,) = run_op("Gather", [x], attrs={"axis": axis}, constants=[idx])
    same(y, np.take(x, idx.astype(np.int64), axis=axis))


@given(shapes(1, 4, 1, 4), dtypes, seeds(), st.data())
def test_gather_elements(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    ishape = [
        data.draw(st.integers(1, d)) if i != axis % r else data.draw(st.integers(0, 4)) for i, d in enumerate(shape)
    ]
    d = shape[axis]
    idx = rng.integers(-d, d, size=ishape).astype(np.int64)
    (y,) = run_op("GatherElements", [x, idx], attrs={"axis": axis})
    sub = x[tuple(slice(None) if i == axis % r else slice(0, n) for i, n in enumerate(ishape))]
    same(y, np.take_along_axis(sub, np.where(idx < 0, idx + d, idx), axis=axis))


def gather_nd_ref(x, idx, b):
    bshape = idx.shape[:b]
    xb = x.reshape((-1,) + x.shape[b:])
    ib = idx.reshape((-1,) + idx.shape[b:])
    outs = []
    for k in range(xb.shape[0]):
        tuples = ib[k].reshape(-1, idx.shape[-1])
        outs.append(
            np.stack([xb[k][tuple(t)] for t in tuples])
            if len(tuples)
            else np.zeros((0,) + xb.shape[1 + idx.shape[-1] :], x.dtype)
        )
    out = np.stack(outs)
    return out.reshape(bshape + idx.shape[b:-1] + x.shape[b + idx.shape[-1] :])


@given(shapes(1, 4, 1, 4), dtypes, seeds(), st.data())
def test_gather_nd(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    b = data.draw(st.integers(0, r - 1))
    k = data.draw(st.integers(1, r - b))
    mid = data.draw(shapes(0, 2, 1, 3))
    idx = np.stack(
        [rng.integers(-shape[b + j], shape[b + j], size=tuple(shape[:b]) + mid) for j in range(k)], axis=-1
    ).astype(np.int64)
    (y,) = run_op("GatherND", [x, idx], attrs={"batch_dims": b}, opset=13)
    same(y, gather_nd_ref(x, idx, b))


@given(shapes(1, 3, 1, 4), num_dtypes, seeds(), st.data(), st.sampled_from(["none", "add", "mul", "max", "min"]))
def test_scatter_nd(shape, dt, seed, data, red):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    k = data.draw(st.integers(1, r))
    positions = list(np.ndindex(*shape[:k]))
    n = data.draw(st.integers(1, len(positions)))
    if red == "none":
        chosen = [positions[i] for i in rng.permutation(len(positions))[:n]]
    else:
        chosen = [positions[i] for i in rng.integers(0, len(positions), size=n)]
    idx = np.array(chosen, np.int64).reshape(n, k)
    idx = np.where(rng.integers(0, 2, size=idx.shape) == 1, idx - np.array(shape[:k]), idx)
    upd = rand(rng, (n,) + shape[k:], dt)
    want = x.copy()
    for t in range(n):
        pos = tuple(int(v) for v in idx[t])
        u = upd[t]
        if red == "none":
            want[pos] = u
        elif red == "add":
            want[pos] = (
                (want[pos].astype(np.float32) + u.astype(np.float32)).astype(dt)
                if dt.kind == "f" or dt == BF16
                else want[pos] + u
            )
        elif red == "mul":
            want[pos] = (
                (want[pos].astype(np.float32) * u.astype(np.float32)).astype(dt)
                if dt.kind == "f" or dt == BF16
                else want[pos] * u
            )
        elif red == "max":
            want[pos] = np.maximum(want[pos], u)
        else:
            want[pos] = np.minimum(want[pos], u)
    attrs = {} if red == "none" else {"reduction": red}
    (y,) = run_op("ScatterND", [x, idx, upd], attrs=attrs, opset=18)
    same(y, want)


@given(shapes(1, 3, 1, 4), num_dtypes, seeds(), st.data(), st.sampled_from(["none", "add", "max"]))
def test_scatter_elements(shape, dt, seed, data, red):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    a = axis % r
    ishape = [data.draw(st.integers(1, d)) for d in shape]
    if red == "none":
        ishape[a] = data.draw(st.integers(1, shape[a]))
        # unique targets along the axis
        idx = np.stack([rng.permutation(shape[a])[: ishape[a]] for _ in range(int(np.prod(ishape)) // ishape[a])])
        idx = np.moveaxis(idx.reshape([s for i, s in enumerate(ishape) if i != a] + [ishape[a]]), -1, a)
    else:
        idx = rng.integers(0, shape[a], size=ishape)
    idx = idx.astype(np.int64)
    upd = rand(rng, ishape, dt)
    want = x.copy()
    for pos in np.ndindex(*ishape):
        tgt = list(pos)
        tgt[a] = int(idx[pos])
        tgt = tuple(tgt)
        if red == "none":
            want[tgt] = upd[pos]
        elif red == "add":
            want[tgt] = (
                (np.float32(want[tgt]) + np.float32(upd[pos])).astype(dt)
                if dt.kind == "f" or dt == BF16
                else want[tgt] + upd[pos]
            )
        else:
            want[tgt] = max(want[tgt], upd[pos])
    neg_idx = np.where(rng.integers(0, 2, size=idx.shape) == 1, idx - shape[a], idx)
    attrs = {"axis": axis} if red == "none" else {"axis": axis, "reduction": red}
    (y,) = run_op("ScatterElements", [x, neg_idx, upd], attrs=attrs, opset=18)
    same(y, want)


@given(shapes(0, 3, 1, 4), seeds(), st.data(), st.sampled_from([np.int64, np.int32, np.float32]))
def test_one_hot(shape, seed, data, it):
    rng = np.random.default_rng(seed)
    depth = data.draw(st.integers(1, 5))
    idx = rng.integers(-depth - 1, depth + 1, size=shape).astype(it)
    r = len(shape) + 1
    axis = data.draw(st.integers(-r, r - 1))
    vdt = data.draw(num_dtypes)
    values = rand(rng, (2,), vdt)
    (y,) = run_op("OneHot", [idx], attrs={"axis": axis}, constants=[np.array(depth, np.int64), values])
    ii = idx.astype(np.int64)
    ii = np.where(ii < 0, ii + depth, ii)
    hot = ii[..., None] == np.arange(depth)
    hot = np.moveaxis(hot, -1, axis % r)
    same(y, np.where(hot, values[1], values[0]).astype(vdt))


@given(shapes(1, 4, 0, 5), num_dtypes, seeds(), st.data())
def test_cumsum(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    if dt == np.int8 or dt == np.uint8:
        x = (x % 4).astype(dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    excl = data.draw(st.integers(0, 1))
    rev = data.draw(st.integers(0, 1))
    ref = x.astype(np.float64)
    if rev:
        ref = np.flip(ref, axis)
    c = np.cumsum(ref, axis=axis)
    if excl:
        c = c - ref
    if rev:
        c = np.flip(c, axis)
    (y,) = run_op(
        "CumSum",
        [x],
        attrs={"exclusive": excl, "reverse": rev},
        constants=[np.array(axis, data.draw(st.sampled_from([np.int32, np.int64])))],
    )
    tol = {np.dtype(np.float16): 1e-2, BF16: 3e-2}.get(np.dtype(dt), 1e-5)
    np.testing.assert_allclose(y.astype(np.float64), c.astype(dt).astype(np.float64), rtol=tol, atol=tol * 4)


@given(shapes(1, 4, 0, 4), dtypes, seeds())
def test_nonzero(shape, dt, seed):
    x = rand(np.random.default_rng(seed), shape, dt)
    (y,) = run_op("NonZero", [x], opset=13)
    want = np.array(np.nonzero(x), dtype=np.int64) if len(shape) else np.zeros((0, int(x.item() != 0)), np.int64)
    same(y, want.reshape(len(shape), -1))


@given(shapes(2, 4, 0, 5), dtypes, seeds(), st.integers(-6, 6), st.booleans())
def test_trilu(shape, dt, seed, k, upper):
    x = rand(np.random.default_rng(seed), shape, dt)
    (y,) = run_op("Trilu", [x], attrs={"upper": int(upper)}, constants=[np.array(k, np.int64)], opset=14)
    same(y, np.triu(x, k) if upper else np.tril(x, k))


@given(st.integers(0, 5), st.integers(0, 5), st.integers(-6, 6), dtypes)
def test_eye_like(n, m, k, dt):
    x = np.zeros((n, m), np.float32)
    (y,) = run_op(
        "EyeLike",
        [x],
        attrs={"k": k, "dtype": helper.np_dtype_to_tensor_dtype(dt) if dt != BF16 else TensorProto.BFLOAT16},
    )
    same(y, np.eye(n, m, k).astype(dt))
