"""Property tests of the data-movement ops (Transpose, Concat, Split, Slice, Expand, Tile, Pad, DepthToSpace /
SpaceToDepth) against numpy references.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.dtype_arrays import dtypes, rand, same, seeds, shapes
from helpers.op_harness import run_op

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
