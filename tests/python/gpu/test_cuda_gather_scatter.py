"""GPU index ops (cuda/kernels/gather_scatter.cu: Gather, GatherElements, GatherND, ScatterElements, ScatterND) against numpy.

Each kernel runs through _core.run_kernel on the first GPU device (host arrays in and out) and the
module skips where there is none. Gathers and plain scatters are checked bit-exactly over every dtype;
scatter reductions against float64 references computed from the inputs already rounded to their dtype: float32 1e-5
relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.cuda_data_harness import ALL, BF16, F16, F32, FLOATS, assert_same, seeds, shapes
from helpers.gpu_kernels import rand, run

pytestmark = pytest.mark.gpu

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
