"""Property tests of comparisons, logic ops, Where and Cast / CastLike against numpy references, and the elementwise
family's errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.elementwise_data import ALL, BF16, F16, F32, NUMERIC, bcast_shapes, f64, make_array, seeds, shapes
from helpers.op_harness import run_op

# ---------------------------------------------------------------------------------------------
# Comparisons, logic, Where


COMPARE = {
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
}


@pytest.mark.parametrize("op", sorted(COMPARE))
@given(seed=seeds, shp=bcast_shapes(), data=st.data())
def test_compare(op, seed, shp, data):
    dt = data.draw(st.sampled_from(ALL if op == "Equal" else NUMERIC))
    a = make_array(seed, shp[0], dt, -2 if dt.kind == "i" else None, 3 if dt.kind in "iu" else None)
    b = make_array(seed + 1, shp[1], dt, -2 if dt.kind == "i" else None, 3 if dt.kind in "iu" else None)
    if dt.kind == "f" or dt == BF16:
        b = b.copy()
        if a.size and b.size:  # some exact ties
            b.flat[0] = a.flat[0]
    (y,) = run_op(op, [a, b], opset=19 if op == "Equal" else 16)
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, COMPARE[op](f64(a), f64(b)) if dt != np.bool_ else COMPARE[op](a, b))


LOGIC = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


@pytest.mark.parametrize("op", sorted(LOGIC))
@given(seed=seeds, shp=bcast_shapes())
def test_logic(op, seed, shp):
    a = make_array(seed, shp[0], np.bool_)
    b = make_array(seed + 1, shp[1], np.bool_)
    (y,) = run_op(op, [a, b])
    np.testing.assert_array_equal(y, LOGIC[op](a, b))


@given(seed=seeds, shp=bcast_shapes(3), dt=st.sampled_from(ALL))
def test_where(seed, shp, dt):
    c = make_array(seed, shp[0], np.bool_)
    x = make_array(seed + 1, shp[1], dt)
    z = make_array(seed + 2, shp[2], dt)
    (y,) = run_op("Where", [c, x, z], opset=16)
    assert y.dtype == dt
    np.testing.assert_array_equal(f64(y), f64(np.where(c, x, z)))


# ---------------------------------------------------------------------------------------------
# Cast / CastLike

ONNX_CODE = {
    F32: 1,
    np.dtype(np.uint8): 2,
    np.dtype(np.int8): 3,
    np.dtype(np.int32): 6,
    np.dtype(np.int64): 7,
    np.dtype(np.bool_): 9,
    F16: 10,
    BF16: 16,
}


def _cast_source(seed, shape, src, dst):
    """Values of src that are in range for dst (numpy leaves out-of-range float->int undefined)."""
    if src.kind == "f" or src == BF16:
        lo, hi = (-100.0, 100.0)
        if dst.kind == "u":
            lo, hi = 0.0, 250.0
        return make_array(seed, shape, src, lo, hi)
    return make_array(seed, shape, src, None if src.kind != "i" else -100, None if src.kind == "b" else 100)


@given(seed=seeds, shape=shapes, src=st.sampled_from(ALL), dst=st.sampled_from(ALL))
def test_cast(seed, shape, src, dst):
    x = _cast_source(seed, shape, src, dst)
    (y,) = run_op("Cast", [x], attrs={"to": ONNX_CODE[dst]}, opset=19)
    assert y.dtype == dst and y.shape == x.shape
    with np.errstate(all="ignore"):
        want = x.astype(dst)
    np.testing.assert_array_equal(f64(y), f64(want))


def test_cast_saturates_and_nan():
    x = np.array([np.nan, 1e10, -1e10, 300.0, -300.0, 2.9, -2.9], dtype=np.float32)
    (y,) = run_op("Cast", [x], attrs={"to": 6})
    np.testing.assert_array_equal(y, [0, 2**31 - 1, -(2**31), 300, -300, 2, -2])
    (y,) = run_op("Cast", [x], attrs={"to": 3})
    np.testing.assert_array_equal(y, [0, 127, -128, 127, -128, 2, -2])
    (y,) = run_op("Cast", [x], attrs={"to": 9})
    np.testing.assert_array_equal(y, x.astype(bool))


@given(seed=seeds, shape=shapes, src=st.sampled_from(ALL), dst=st.sampled_from(ALL))
def test_castlike(seed, shape, src, dst):
    x = _cast_source(seed, shape, src, dst)
    like = np.zeros((2,), dtype=dst)
    (y,) = run_op("CastLike", [x, like], opset=19)
    assert y.dtype == dst
    np.testing.assert_array_equal(f64(y), f64(x.astype(dst)))


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors():
    import deepseek_r1 as r1

    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Exp", [np.ones(3, dtype=np.int32)])
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Cast", [np.ones(3, dtype=np.float32)], attrs={"to": 17})  # float8e4m3fn
    with pytest.raises(r1.ModelError, match="not supported"):
        run_op("Gelu", [np.ones(3, dtype=np.float32)], attrs={"approximate": "fast"}, opset=20)
    with pytest.raises(r1.ModelError):
        run_op("Add", [np.ones(3, dtype=np.float32), np.ones(3, dtype=np.int32)])
    with pytest.raises((r1.ModelError, r1.InputError)):
        run_op("Add", [np.ones(3, dtype=np.float32), np.ones(4, dtype=np.float32)])
