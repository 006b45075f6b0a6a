"""GPU views and data movement (cuda/kernels/views.cc, {transpose,concat_split,slice,
expand_tile,pad,where,trilu,cast}.cu) against numpy: the views (Reshape, Flatten,
Squeeze, Unsqueeze, Identity), Transpose, Concat, Split, Slice, Expand, Tile, Pad, Where, Trilu, Dropout, Cast.

Each kernel runs through _core.run_kernel on the first GPU device (host arrays in and out) and the
module skips where there is none. Byte-moving ops are checked bit-exactly over every dtype; Cast against
float64 references computed from the inputs already rounded to their dtype: float32 1e-5 relative, float16 /
bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from helpers.cuda_data_harness import ALL, BF16, F16, F32, FLOATS, assert_same, i64, seeds, shapes
from helpers.gpu_kernels import rand, run

pytestmark = pytest.mark.gpu

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
