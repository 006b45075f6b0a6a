"""GPU reductions (cuda/kernels/reduce.cu: Reduce*, ArgMax / ArgMin) against numpy, and the errors of the data
kernels (views, data movement, index ops, reductions).

Each kernel runs through _core.run_kernel on the first GPU device (host arrays in and out) and the
module skips where there is none. References are float64, computed from the inputs already rounded to
their dtype: float32 1e-5 relative, float16 / bfloat16 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import deepseek_r1 as r1
from helpers.cuda_data_harness import F32, FLOATS, assert_close, assert_same, i64, seeds
from helpers.gpu_kernels import rand, run

pytestmark = pytest.mark.gpu

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
