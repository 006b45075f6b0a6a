"""Property tests of the shape and data-movement ops (cpu/kernels/{views,transpose,slice,pad,...}.cc) vs numpy."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import deepseek_r1 as r1
from helpers.op_harness import run_op

BF16 = np.dtype(ml_dtypes.bfloat16)
ALL_DTYPES = [np.dtype(t) for t in (np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_)] + [BF16]
NUM_DTYPES = [d for d in ALL_DTYPES if d != np.bool_]

dtypes = st.sampled_from(ALL_DTYPES)
num_dtypes = st.sampled_from(NUM_DTYPES)


def rand(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Random values of dtype, never all zero (unless empty)."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    if dtype == np.bool_:
        a = rng.integers(0, 2, size=shape).astype(np.bool_)
    elif dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else -50
        a = rng.integers(lo, 50, size=shape).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(np.float32).astype(dtype)
    if a.size and not a.any():
        a.flat[0] = 1
    return a


def shapes(min_rank=0, max_rank=4, min_side=1, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


def seeds():
    return st.integers(0, 2**31 - 1)


def same(got, want):
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    if got.dtype == BF16:
        got, want = got.reshape(-1).view(np.uint16), want.reshape(-1).view(np.uint16)
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------------------------- views


@given(shapes(1, 4, 0, 4), dtypes, seeds(), st.data())
def test_reshape(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    target = list(shape)
    rng.shuffle(target)
    if len(target) >= 2 and data.draw(st.booleans()):  # merge two dims
        target = [target[0] * target[1]] + target[2:]
    spec = list(target)
    attrs = {}
    if 0 in target:
        attrs["allowzero"] = 1  # a literal 0 would otherwise mean "copy"
    else:
        if data.draw(st.booleans()):
            spec[data.draw(st.integers(0, len(spec) - 1))] = -1
        for i in range(min(len(spec), len(shape))):
            if spec[i] == shape[i] and data.draw(st.booleans()):
                spec[i] = 0
    (y,) = run_op("Reshape", [x], attrs=attrs, constants=[np.array(spec, np.int64)], opset=14)
    same(y, x.reshape(target))


def test_reshape_allowzero_and_errors():
    x = np.zeros((0, 3), np.float32)
    (y,) = run_op("Reshape", [x], constants=[np.array([3, 0], np.int64)], attrs={"allowzero": 1}, opset=14)
    assert y.shape == (3, 0)
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Reshape", [np.ones((2, 3), np.float32)], constants=[np.array([4, -1], np.int64)])


@given(shapes(0, 4, 0, 4), dtypes, seeds(), st.data())
def test_flatten(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r))
    a = axis + r if axis < 0 else axis
    (y,) = run_op("Flatten", [x], attrs={"axis": axis}, opset=13)
    same(y, x.reshape(int(np.prod(shape[:a])), int(np.prod(shape[a:]))))


@given(shapes(0, 4, 1, 3), dtypes, seeds(), st.data(), st.sampled_from([11, 13]))
def test_squeeze_unsqueeze(shape, dt, seed, data, opset):
    x = rand(np.random.default_rng(seed), shape, dt)
    ones = [i for i, d in enumerate(shape) if d == 1]
    if ones and data.draw(st.booleans()):
        axes = sorted(set(data.draw(st.lists(st.sampled_from(ones), min_size=1, max_size=len(ones)))))
        axes = [a - len(shape) if data.draw(st.booleans()) else a for a in axes]
        want = np.squeeze(x, axis=tuple(axes))
        if opset >= 13:
            (y,) = run_op("Squeeze", [x], constants=[np.array(axes, np.int64)], opset=opset)
        else:
            (y,) = run_op("Squeeze", [x], attrs={"axes": axes}, opset=opset)
    else:
        want = np.squeeze(x)
        (y,) = run_op("Squeeze", [x], opset=opset)
    same(y, want)
    n_new = data.draw(st.integers(1, 3))
    out_rank = len(shape) + n_new
    axes = data.draw(st.lists(st.integers(0, out_rank - 1), min_size=n_new, max_size=n_new, unique=True))
    want = np.expand_dims(x, tuple(axes))
    axes = [a - out_rank if data.draw(st.booleans()) else a for a in axes]
    if opset >= 13:
        (y,) = run_op("Unsqueeze", [x], constants=[np.array(axes, np.int64)], opset=opset)
    else:
        (y,) = run_op("Unsqueeze", [x], attrs={"axes": axes}, opset=opset)
    same(y, want)


@given(shapes(0, 3, 0, 4), dtypes, seeds())
def test_identity_dropout(shape, dt, seed):
    x = rand(np.random.default_rng(seed), shape, dt)
    (y,) = run_op("Identity", [x])
    same(y, x)
    y, m = run_op("Dropout", [x], n_outputs=2, opset=13)
    same(y, x)
    same(m, np.ones(shape, np.bool_))


# ----------------------------------------------------------------------------------------------- movement


@given(shapes(0, 5, 1, 5), dtypes, seeds(), st.data())
def test_transpose(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    if not shape or data.draw(st.booleans()):
        (y,) = run_op("Transpose", [x])
        same(y, x.T)
    else:
        perm = data.draw(st.permutations(range(len(shape))))
        (y,) = run_op("Transpose", [x], attrs={"perm": list(perm)})
        same(y, np.transpose(x, perm))


@pytest.mark.parametrize(
    "shape,perm",
    [
        ((67, 129), (1, 0)),
        ((3, 40, 33), (0, 2, 1)),
        ((5, 17, 64, 8), (0, 2, 1, 3)),
        ((4, 48, 36), (2, 0, 1)),
        ((2, 3, 130, 70), (3, 1, 0, 2)),
    ],
)
@pytest.mark.parametrize("dt", [np.float32, np.float16, np.int64, np.int8])
def test_transpose_large(shape, perm, dt):
    x = rand(np.random.default_rng(0), shape, dt)
    (y,) = run_op("Transpose", [x], attrs={"perm": list(perm)})
    same(y, np.transpose(x, perm))


@given(shapes(1, 4, 1, 4), dtypes, seeds(), st.data())
def test_concat(shape, dt, seed, data):
    rng = np.random.default_rng(seed)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    n = data.draw(st.integers(1, 4))
    xs = []
    for _ in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 4))
        xs.append(rand(rng, s, dt))
    (y,) = run_op("Concat", xs, attrs={"axis": axis})
    same(y, np.concatenate(xs, axis=axis))


@given(shapes(1, 4, 1, 6), dtypes, seeds(), st.data(), st.sampled_from([11, 13, 18]))
def test_split(shape, dt, seed, data, opset):
    x = rand(np.random.default_rng(seed), shape, dt)
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    dim = shape[axis]
    mode = data.draw(st.sampled_from(["sizes", "equal"]))
    if mode == "sizes":
        n = data.draw(st.integers(1, 3))
        cuts = sorted(data.draw(st.lists(st.integers(0, dim), min_size=n - 1, max_size=n - 1)))
        sizes = np.diff([0] + cuts + [dim]).tolist()
        if opset >= 13:
            ys = run_op(
                "Split", [x], attrs={"axis": axis}, constants=[np.array(sizes, np.int64)], n_outputs=n, opset=opset
            )
        else:
            ys = run_op("Split", [x], attrs={"axis": axis, "split": sizes}, n_outputs=n, opset=opset)
    else:
        divs = [k for k in range(1, dim + 1) if dim % k == 0] if opset < 18 else list(range(1, dim + 1))
        n = data.draw(st.sampled_from(divs))
        chunk = -(-dim // n)
        sizes = [min(chunk, dim - i * chunk) for i in range(n)]
        if opset >= 18 and sum(1 for s in sizes if s > 0) != n:
            return  # onnx requires every chunk non-empty here
        attrs = {"axis": axis}
        if opset >= 18:
            attrs["num_outputs"] = n
        ys = run_op("Split", [x], attrs=attrs, n_outputs=n, opset=opset)
    want = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    for y, w in zip(ys, want):
        same(y, w)


@given(shapes(1, 4, 0, 6), dtypes, seeds(), st.data(), st.sampled_from([9, 10, 13]))
def test_slice(shape, dt, seed, data, opset):
    x = rand(np.random.default_rng(seed), shape, dt)
    r = len(shape)
    axes = data.draw(st.lists(st.integers(0, r - 1), min_size=1, max_size=r, unique=True))
    bound = st.integers(-8, 8) | st.sampled_from([2**63 - 1, -(2**63), 2**31])
    starts = [data.draw(bound) for _ in axes]
    ends = [data.draw(bound) for _ in axes]
    steps = [1] * len(axes) if opset < 10 else [data.draw(st.sampled_from([1, 2, 3, -1, -2])) for _ in axes]
    want = x
    for a, s, e, k in zip(axes, starts, ends, steps):  # ONNX clamping (numpy differs for huge negative starts)
        dim = shape[a]
        s, e = s + dim if s < 0 else s, e + dim if e < 0 else e
        if k > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        want = np.take(want, np.arange(s, e, k, dtype=np.int64) if dim else np.zeros(0, np.int64), axis=a)
    neg_axes = [a - r if data.draw(st.booleans()) else a for a in axes]
    if opset < 10:
        (y,) = run_op("Slice", [x], attrs={"starts": starts, "ends": ends, "axes": neg_axes}, opset=opset)
    else:
        consts = [
            np.array(starts, np.int64),
            np.array(ends, np.int64),
            np.array(neg_axes, np.int64),
            np.array(steps, np.int64),
        ]
        (y,) = run_op("Slice", [x], constants=consts, opset=opset)
    same(y, np.ascontiguousarray(want))


@given(shapes(0, 4, 1, 4), dtypes, seeds(), st.data())
def test_expand(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    extra = data.draw(st.lists(st.integers(1, 3), max_size=2))
    tgt = list(extra) + [d if d != 1 else data.draw(st.sampled_from([1, 3])) for d in shape]
    # Expand is bidirectional: target dims of 1 keep the input dim.
    spec = [1 if (i >= len(extra) and data.draw(st.booleans())) else t for i, t in enumerate(tgt)]
    (y,) = run_op("Expand", [x], constants=[np.array(spec, np.int64)])
    same(
        y,
        x * np.ones(spec, dtype=x.dtype)
        if dt == np.bool_
        else np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(spec))).copy(),
    )


@given(shapes(1, 4, 0, 4), dtypes, seeds(), st.data())
def test_tile(shape, dt, seed, data):
    x = rand(np.random.default_rng(seed), shape, dt)
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    (y,) = run_op("Tile", [x], constants=[np.array(reps, np.int64)])
    same(y, np.tile(x, reps))


@given(shapes(1, 4, 1, 5), dtypes, seeds(), st.data(), st.sampled_from([10, 13, 18]))
def test_pad(shape, dt, seed, data, opset):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dt)
    r = len(shape)
    mode = data.draw(st.sampled_from(["constant", "reflect", "edge"] + (["wrap"] if opset >= 19 else [])))
    if mode == "reflect":
        pads = [[data.draw(st.integers(0, d - 1)), data.draw(st.integers(0, d - 1))] for d in shape]
    else:
        pads = [[data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))] for _ in shape]
    flat = [p[0] for p in pads] + [p[1] for p in pads]
    cval = rand(rng, (), dt)
    if mode == "constant":
        want = np.pad(x, pads, mode="constant", constant_values=cval if opset >= 11 else 0)
    else:
        want = np.pad(x, pads, mode=mode)
    if opset < 11:
        if dt not in (np.float32, np.float16):
            return
        (y,) = run_op("Pad", [x], attrs={"mode": mode, "pads": flat}, opset=opset)
    elif opset >= 18 and data.draw(st.booleans()):
        axes = [a for a in range(r) if any(pads[a])] or [0]
        fl = [pads[a][0] for a in axes] + [pads[a][1] for a in axes]
        (y,) = run_op(
            "Pad",
            [x],
            attrs={"mode": mode},
            constants=[np.array(fl, np.int64), cval, np.array([a - r for a in axes], np.int64)],
            opset=opset,
        )
    else:
        (y,) = run_op("Pad", [x], attrs={"mode": mode}, constants=[np.array(flat, np.int64), cval], opset=opset)
    same(y, want)


@pytest.mark.parametrize("mode", ["constant", "edge", "wrap"])
def test_pad_negative_and_wrap(mode):
    x = rand(np.random.default_rng(3), (4, 5), np.float32)
    (y,) = run_op("Pad", [x], attrs={"mode": mode}, constants=[np.array([-1, 2, 1, -2], np.int64)], opset=19)
    full = np.pad(x, [(0, 1), (2, 0)], mode=mode)
    same(y, full[1:, :-2])


@given(shapes(1, 4, 1, 4), dtypes, seeds())
def test_depth_space(shape, dt, seed):
    rng = np.random.default_rng(seed)
    b = int(rng.integers(1, 4))
    n, c, h, w = 1 + seed % 2, int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = rand(rng, (n, c * b * b, h, w), dt)
    for mode in ("DCR", "CRD"):
        if mode == "DCR":
            want = x.reshape(n, b, b, c, h, w).transpose(0, 3, 4, 1, 5, 2).reshape(n, c, h * b, w * b)
        else:
            want = x.reshape(n, c, b, b, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c, h * b, w * b)
        (y,) = run_op("DepthToSpace", [x], attrs={"blocksize": b, "mode": mode})
        same(y, want)
    x = rand(rng, (n, c, h * b, w * b), dt)
    want = x.reshape(n, c, h, b, w, b).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * b * b, h, w)
    (y,) = run_op("SpaceToDepth", [x], attrs={"blocksize": b, "mode": "CRD"}, opset=25)
    same(y, want)
    want = x.reshape(n, c, h, b, w, b).transpose(0, 3, 5, 1, 2, 4).reshape(n, c * b * b, h, w)
    (y,) = run_op("SpaceToDepth", [x], attrs={"blocksize": b})
    same(y, want)


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


# ----------------------------------------------------------------------------------------------- shape queries


@given(shapes(0, 5, 0, 4), dtypes, st.integers(-6, 6), st.integers(-6, 6))
def test_shape_size(shape, dt, start, end):
    x = np.zeros(shape, dt)
    (y,) = run_op("Shape", [x], opset=13)
    same(y, np.array(shape, np.int64))
    (y,) = run_op("Shape", [], attrs={"start": start, "end": end}, constants=[x], opset=15)
    same(y, np.array(shape[slice(start, end)] if start >= -len(shape) else shape[:end], np.int64))
    (y,) = run_op("Size", [x])
    same(y, np.array(int(np.prod(shape)), np.int64))


@given(shapes(0, 4, 0, 4), num_dtypes | st.just(np.dtype(np.bool_)), seeds())
def test_constant_of_shape(shape, dt, seed):
    (y,) = run_op("ConstantOfShape", [], constants=[np.array(shape, np.int64)])
    same(y, np.zeros(shape, np.float32))
    v = rand(np.random.default_rng(seed), (1,), dt)
    (y,) = run_op("ConstantOfShape", [np.array(shape, np.int64)], attrs={"value": numpy_helper.from_array(v)})
    same(y, np.full(shape, v[0], dt))


@given(
    st.sampled_from([np.int32, np.int64, np.float32, np.int8]),
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.integers(-5, 5).filter(lambda d: d != 0),
)
def test_range(dt, start, limit, delta):
    args = [np.array(v, dt) for v in (start, limit, delta)]
    (y,) = run_op("Range", args, opset=11)
    want = np.arange(start, limit, delta).astype(dt)
    if np.dtype(dt).kind == "f":
        np.testing.assert_allclose(y, want, rtol=1e-6)
        assert y.dtype == want.dtype
    else:
        same(y, want)


# ----------------------------------------------------------------------------------------------- graphs


def test_exporter_shape_chain_with_symbolic_dims():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torch exporters emit it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 12])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        helper.make_node("Gather", ["s", "i1"], ["q"], axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["bu"]),
        helper.make_node("Unsqueeze", ["q", "ax0"], ["qu"]),
        helper.make_node("Concat", ["bu", "qu", "c34"], ["shp"], axis=0),
        helper.make_node("Reshape", ["x", "shp"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
        helper.make_node("Slice", ["t", "st", "en", "axs"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "i0"),
        numpy_helper.from_array(np.array(1, np.int64), "i1"),
        numpy_helper.from_array(np.array([0], np.int64), "ax0"),
        numpy_helper.from_array(np.array([3, 4], np.int64), "c34"),
        numpy_helper.from_array(np.array([1], np.int64), "st"),
        numpy_helper.from_array(np.array([2**62], np.int64), "en"),
        numpy_helper.from_array(np.array([-1], np.int64), "axs"),
    ]
    g = helper.make_graph(nodes, "chain", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(m)))
    for b, s in [(2, 5), (1, 1), (3, 0)]:
        xv = rand(np.random.default_rng(b), (b, s, 12), np.float32)
        out = e.run([xv])["y"]
        same(out, np.ascontiguousarray(xv.reshape(b, s, 3, 4).transpose(0, 2, 1, 3)[..., 1:]))


def test_symbolic_reshape_inference():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 768])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "s"], ["r"]),
            helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 1, 3]),
        ],
        "r",
        [x],
        [y],
        [numpy_helper.from_array(np.array([0, 0, 12, -1], np.int64), "s")],
    )
    e = r1.InferenceEngine(r1.Model(r1.load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))))
    assert tuple(e.outputs[0].shape) == ("batch", 12, "seq", 64)
    xv = rand(np.random.default_rng(0), (2, 3, 768), np.float32)
    same(e.run([xv])["y"], xv.reshape(2, 3, 12, 64).transpose(0, 2, 1, 3))


def test_errors():
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Gather", [np.ones((3,), np.float32), np.array([3], np.int64)])
    with pytest.raises((r1.InputError, r1.ModelError)):
        run_op("Concat", [np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)], attrs={"axis": 0})
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op(
            "Pad", [np.ones((2, 3), np.float32)], attrs={"mode": "mirror"}, constants=[np.array([0, 0, 0, 0], np.int64)]
        )


def test_range_constant_inputs_infer_at_compile_time():
    args = [np.array(v, np.int64) for v in (2, 11, 3)]
    (y,) = run_op("Range", [], constants=args, opset=11)
    same(y, np.arange(2, 11, 3, dtype=np.int64))


def test_dropout_training_mode_rejected():
    x = np.ones((2, 3), np.float32)
    (y,) = run_op("Dropout", [x], constants=[np.array(0.5, np.float32), np.array(False)], opset=13)
    same(y, x)
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Dropout", [x], constants=[np.array(0.5, np.float32), np.array(True)], opset=13)
